// Package e2e holds end-to-end tests of the cairn binary: they build it,
// run `cairn serve` as a separate process on 127.0.0.1 and drive it through
// the client package, observing the process from outside (its /proc
// entries, its /metrics).
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// cairnBinary builds cmd/cairn once per test binary run and returns its
// path.
func cairnBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-e2e-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "cairn")
		cmd := exec.Command("go", "build", "-o", build.path, "github.com/cairn-registry/cairn/cmd/cairn")
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/cairn: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.path != "" {
		os.RemoveAll(filepath.Dir(build.path))
	}
	os.Exit(code)
}

// server is a running `cairn serve`.
type server struct {
	URL    string
	PID    int
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan error
}

// startServer runs `cairn serve --addr 127.0.0.1:0` with args and waits for
// it to print the URL it listens on. The server is stopped (SIGTERM, then
// SIGKILL) when the test ends.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	bin := cairnBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.PID = cmd.Process.Pid
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })

	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "http://127.0.0.1:") {
			t.Fatalf("cairn serve printed %q, not its URL; stderr:\n%s", l, s.stderr)
		}
		s.URL = l
	case err := <-s.done:
		t.Fatalf("cairn serve exited before listening (%v); stderr:\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("cairn serve did not print its URL within 30 s; stderr:\n%s", s.stderr)
	}
	return s
}

func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("cairn serve did not stop within 15 s of SIGTERM; killed")
	}
}

// lockedBuffer collects a process's stderr for failure messages, keeping
// the last 64 KiB.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 64<<10 {
		b.buf = b.buf[len(b.buf)-64<<10:]
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// ctx returns a context that ends with the test or after d.
func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}
