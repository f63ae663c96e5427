// Package mllp implements the Minimal Lower Layer Protocol used to carry
// HL7 v2 messages over TCP: framing ([Reader], [Writer], [Frame]), a server
// ([Server], [Handler]) and a client ([Client]).
//
// The framing is MLLP Release 1 as defined in HL7 v2.x Appendix C "Lower
// Layer Protocols": each message is sent as
//
//	<SB> payload <EB><CR>    with SB = 0x0B, EB = 0x1C, CR = 0x0D
//
// with no length, checksum or retransmission; reliability comes from the HL7
// acknowledgement, so a receiver answers every message with exactly one
// framed reply on the same connection. (MLLP Release 2 commit
// acknowledgement blocks are not implemented.)
//
// # Framing rules
//
//   - Bytes before a start block are skipped and counted ([Reader.Skipped],
//     [Server.OnJunk]). This includes the stray LF many senders put after a
//     frame's CR, and any other junk between frames.
//   - Several frames in one read and one frame across many reads both work;
//     frames are found by scanning front to back.
//   - An end block ends the frame. If it is not followed by CR the frame is
//     still accepted (lenient): the CR is treated as optional, the next byte
//     is read as the start of the next frame or as junk, and the violation is
//     counted ([Reader.MissingCR]) and reported to [Server.OnFrameError] as
//     [ErrMissingCR]. The reader never waits for a CR before returning a
//     frame, so a peer that omits it is answered at once.
//   - A start block inside a frame is payload data; the payload may contain
//     any byte except the end block 0x1C, which [Writer.WriteMessage] and
//     [Client.Send] refuse to send ([ErrInvalidPayload]).
//   - An empty frame (SB EB CR) is a message with an empty payload; the
//     server passes it to the handler, which should reject it (HL7 AE/AR).
//   - A payload over the size limit (default 1 MiB) is never buffered whole:
//     reading stops as soon as the limit is exceeded (at most 4 KiB beyond
//     it is read) and [ErrFrameTooLarge] is returned; the server closes the
//     connection. Memory per connection is bounded by the limit plus a
//     fixed 4 KiB buffer.
//   - Each frame is written with exactly one Write call (SB, payload, EB and
//     CR in one buffer), since naive peers mis-handle split block bytes.
//
// # Server rules
//
//   - One message in flight per connection: read, handle, write the reply,
//     then read the next. Messages of a connection are handled in arrival
//     order, and pipelined frames each get their reply, in order.
//   - Between messages the wait for the next start block is bounded by
//     [Server.IdleTimeout] (default 10 min; junk does not extend it). Once a
//     start block has been seen, the whole frame must arrive within
//     [Server.ReadTimeout] (default 30 s); a mid-frame stall or slowloris
//     closes the connection with a [FrameError] wrapping
//     os.ErrDeadlineExceeded. Replies are bounded by [Server.WriteTimeout].
//   - [Server.MaxConns], [Server.AllowedNets] and a failed TLS handshake
//     (with [Server.TLSConfig], optionally mutual TLS) close the connection
//     before any byte reaches the handler ([StateRejected]).
//   - A handler panic is recovered and logged without its value (unless it
//     is a runtime error) and the connection is closed without a reply.
//   - [Server.Shutdown] works like net/http's: it stops accepting, closes
//     idle connections at once, lets a connection with a message in hand
//     (from its start block on) finish reading it, run the handler and write
//     the reply, then closes it in an orderly way (FIN, then up to 500 ms
//     draining unread input, so that no TCP reset destroys the reply).
//     Pipelined messages behind the one in hand are not served; having no
//     reply, the sender resends them. [Server.Serve] returns
//     [ErrServerClosed].
//   - The package never logs message content (PHI): its errors and log lines
//     carry sizes, addresses and causes only. Handler errors are logged only
//     when a nil reply closes the connection, so they must not carry content
//     either.
//
// A minimal server:
//
//	srv := &mllp.Server{Addr: ":2575", Handler: mllp.HandlerFunc(
//		func(ctx context.Context, msg []byte) ([]byte, error) {
//			return buildACK(msg), nil // commit durably before answering AA
//		})}
//	log.Fatal(srv.ListenAndServe())
package mllp
