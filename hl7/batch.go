package hl7

import (
	"bytes"
	"fmt"
	"strconv"
)

// MLLP block characters (HL7 v2 Appendix C, MLLP release 1).
const (
	mllpStart = 0x0B
	mllpEnd   = 0x1C
)

// SplitBatch splits a file or stream into its messages, without copying:
// each result is a slice of data holding one message's segments and their
// terminators, ready for Parse. It accepts
//
//   - one message, or several MSH messages one after another, with
//     segments ended by \r, \r\n or \n (the Parse rules: \n ends segments
//     only when there is no \r at all, but a \n followed by MSH, FHS, BHS,
//     BTS or FTS always starts a new segment, so "one message per line"
//     files work);
//   - HL7 batch files (v2.5.1 §2.10.3): [FHS] {[BHS] {MSH …} [BTS]} [FTS];
//     FHS/BHS/BTS/FTS are checked for order, and BTS-1 (message count) and
//     FTS-1 (batch count), when valued, must match;
//   - MLLP-framed input (0x0B … 0x1C 0x0D, any number of frames): bytes
//     outside frames are skipped (an MSH there is an error: a message
//     would be lost) and each frame is split as above;
//   - unframed input that ends in a leftover MLLP end block (0x1C, then
//     optionally CR/LF): the end block is dropped.
//
// Blank lines are skipped. Errors wrap ErrBadBatch (a *ParseError whose
// Offset is in data and whose Segment counts the segments seen so far);
// the messages found before the problem are returned with it. Input with no
// message gives no messages and no error.
func SplitBatch(data []byte) ([][]byte, error) {
	if bytes.IndexByte(data, mllpStart) < 0 {
		// A file saved from an MLLP stream without its start block often
		// keeps the end block: a trailing 0x1C (and CR) is not content.
		trimmed := bytes.TrimRight(data, "\r\n\t ")
		if n := len(trimmed); n > 0 && trimmed[n-1] == mllpEnd {
			data = trimmed[:n-1]
		}
		s := splitter{data: data}
		return s.run()
	}
	var out [][]byte
	for pos := 0; ; {
		i := bytes.IndexByte(data[pos:], mllpStart)
		gap := data[pos:]
		if i >= 0 {
			gap = gap[:i]
		}
		if k := bytes.Index(gap, []byte("MSH")); k >= 0 {
			return out, batchError(pos+k, 0, "MSH", "message outside MLLP frames")
		}
		if i < 0 {
			return out, nil
		}
		start := pos + i + 1
		j := bytes.IndexByte(data[start:], mllpEnd)
		if j < 0 {
			return out, batchError(pos+i, 0, "", "MLLP frame without end block")
		}
		frame := data[start : start+j]
		if k := bytes.IndexByte(frame, mllpStart); k >= 0 {
			return out, batchError(start+k, 0, "", "MLLP start block inside a frame")
		}
		s := splitter{data: frame, base: start}
		msgs, err := s.run()
		out = append(out, msgs...)
		if err != nil {
			return out, err
		}
		pos = start + j + 1
	}
}

func batchError(offset, seg int, name, what string) error {
	return &ParseError{SegmentName: name, Segment: seg, Offset: offset, Err: fmt.Errorf("%w: %s", ErrBadBatch, what)}
}

// splitter walks the segments of one unframed input.
type splitter struct {
	data []byte
	base int // offset of data in the caller's input

	out        [][]byte
	cur, end   int // current message data[cur:end]; cur < 0: none
	segs       int // segments seen
	inFile     bool
	inBatch    bool
	done       bool // FTS seen
	seenAny    bool // any segment seen
	batchMsgs  int  // messages in the open batch
	batches    int  // batches in the file
	fileHasBHS bool
}

func (s *splitter) run() ([][]byte, error) {
	data := s.data
	s.cur = -1
	sep := byte('\r')
	if bytes.IndexByte(data, '\r') < 0 {
		sep = '\n'
	}
	for pos := 0; pos < len(data); {
		start, end := pos, len(data)
		next := len(data)
		if j := bytes.IndexByte(data[pos:], sep); j >= 0 {
			end = pos + j
			next = end + 1
		}
		if sep == '\r' {
			for start < end && data[start] == '\n' {
				start++
			}
			if k := headerAfterLF(data[start:end]); k >= 0 {
				end = start + k
				next = end + 1
			}
		}
		// The message's bytes run to the end of this line's terminator.
		term := min(next, len(data))
		pos = next
		if err := s.segment(bytes.TrimRight(data[start:end], "\n"), start, term); err != nil {
			return s.out, err
		}
	}
	s.flush()
	if s.inBatch {
		return s.out, batchError(s.base+len(data), s.segs, "BHS", "batch without BTS")
	}
	if s.inFile && !s.done {
		return s.out, batchError(s.base+len(data), s.segs, "FHS", "file without FTS")
	}
	return s.out, nil
}

// headerAfterLF returns the index of a \n in line that is followed by a
// header or trailer segment (MSH, FHS, BHS, BTS, FTS), or -1.
func headerAfterLF(line []byte) int {
	for off := 0; ; {
		k := bytes.IndexByte(line[off:], '\n')
		if k < 0 {
			return -1
		}
		k += off
		if isBatchName(segName(line[k+1:])) {
			return k
		}
		off = k + 1
	}
}

// segName returns the name of the segment that line starts, or "".
func segName(line []byte) string {
	if len(line) < 3 || !validName(string(line[:3])) || len(line) > 3 && !validDelim(line[3]) {
		return ""
	}
	return string(line[:3])
}

func isBatchName(n string) bool {
	switch n {
	case "MSH", "FHS", "BHS", "BTS", "FTS":
		return true
	}
	return false
}

// segment handles one line: data[start:] begins with line and the line's
// terminator ends before term.
func (s *splitter) segment(line []byte, start, term int) error {
	if isBlank(string(line)) {
		return nil
	}
	s.segs++
	name := segName(line)
	off := s.base + start
	if isBatchName(name) {
		s.flush() // the message before a header or trailer is complete
	}
	if s.done {
		return batchError(off, s.segs, name, "segment after FTS")
	}
	switch name {
	case "FHS":
		if s.seenAny {
			return batchError(off, s.segs, name, "FHS is not the first segment")
		}
		s.inFile = true
	case "BHS":
		if s.inBatch {
			return batchError(off, s.segs, name, "BHS inside a batch")
		}
		s.inBatch, s.batchMsgs = true, 0
		s.batches++
		s.fileHasBHS = true
	case "BTS":
		if !s.inBatch {
			return batchError(off, s.segs, name, "BTS without BHS")
		}
		if n, ok := countField(line); ok && n != s.batchMsgs {
			return batchError(off, s.segs, name, "BTS-1 says "+strconv.Itoa(n)+" messages, batch has "+strconv.Itoa(s.batchMsgs))
		}
		s.inBatch = false
	case "FTS":
		if !s.inFile {
			return batchError(off, s.segs, name, "FTS without FHS")
		}
		if s.inBatch {
			return batchError(off, s.segs, name, "FTS inside a batch (BTS missing)")
		}
		if n, ok := countField(line); ok && s.fileHasBHS && n != s.batches {
			return batchError(off, s.segs, name, "FTS-1 says "+strconv.Itoa(n)+" batches, file has "+strconv.Itoa(s.batches))
		}
		s.done = true
	case "MSH":
		s.cur, s.end = start, term
		s.batchMsgs++
	default:
		if s.cur < 0 {
			return batchError(off, s.segs, name, "segment outside a message")
		}
		s.end = term
	}
	s.seenAny = true
	return nil
}

// flush closes the current message.
func (s *splitter) flush() {
	if s.cur >= 0 {
		s.out = append(s.out, s.data[s.cur:s.end:s.end])
		s.cur = -1
	}
}

// countField reads field 1 of a BTS/FTS segment as a count.
func countField(line []byte) (int, bool) {
	if len(line) < 5 {
		return 0, false
	}
	f := line[4:]
	if i := bytes.IndexByte(f, line[3]); i >= 0 {
		f = f[:i]
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(f)))
	return n, err == nil && n >= 0
}
