package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireTool skips (or, under CI=true, fails) when a tool is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed: CI must install it (see .ci/run)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/apptbridge once per test process.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "apptbridge-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "apptbridge")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/apptbridge/apptbridge/cmd/apptbridge")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is one `apptbridge serve` child process.
type server struct {
	cmd      *exec.Cmd
	mllpAddr string
	httpAddr string
	logs     *logSink
	done     chan struct{}
}

// logSink keeps every log line written by all server processes of a test.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *logSink) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// startServer starts `apptbridge serve` on loopback ports chosen by the
// kernel and waits until its "ready" log line names them.
func startServer(t testing.TB, dataDir string, sink *logSink, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(os.Environ(),
		"DATA_DIR="+dataDir, "MLLP_ADDR=127.0.0.1:0", "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: sink, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			sink.add(line)
			var rec struct {
				Msg      string `json:"msg"`
				MLLPAddr string `json:"mllp_addr"`
				HTTPAddr string `json:"http_addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "apptbridge ready" {
				s.mllpAddr, s.httpAddr = rec.MLLPAddr, rec.HTTPAddr
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("server exited before ready; logs:\n%s", strings.Join(sink.all(), "\n"))
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server not ready within 15 s")
	}
	return s
}

// kill sends SIGKILL and waits for the process to go.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// stop sends SIGTERM (graceful shutdown) and waits.
func (s *server) stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		t.Fatal("server did not stop within 30 s of SIGINT")
	}
}

// readyz polls /readyz until 200 or the deadline.
func readyz(ctx context.Context, addr string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
