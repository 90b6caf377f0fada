package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/cli"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// inProcessServe runs `cairn serve args…` in-process with the given
// environment, waits for the first line on stdout and returns it. The
// server stops (by context, as SIGTERM does in the binary) when the test
// ends, and must exit 0.
type inProcessServe struct {
	first  string
	stderr *lockedBuffer
	stop   func() int
}

func serveInProcess(t *testing.T, dir string, env map[string]string, args ...string) *inProcessServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &inProcessServe{stderr: &lockedBuffer{}}
	code := make(chan int, 1)
	go func() {
		code <- cli.Run(ctx, append([]string{"serve"}, args...), cli.Env{
			Stdout: pw, Stderr: s.stderr, Dir: dir,
			Getenv: func(k string) string { return env[k] },
		})
		pw.Close()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var once sync.Once
	var exit int
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not stop within 30s of cancellation")
			}
		})
		return exit
	}
	t.Cleanup(func() { s.stop() })
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("serve exited %d without printing; stderr:\n%s", <-code, s.stderr.String())
		}
		s.first = line
	case c := <-code:
		t.Fatalf("serve exited %d; stderr:\n%s", c, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed nothing in 30s; stderr:\n%s", s.stderr.String())
	}
	return s
}

// TestServeSettingsPrecedence checks flag > CAIRN_* variable > config file
// > default, by where each server keeps its database.
func TestServeSettingsPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "cairn.conf")
	if err := os.WriteFile(conf, []byte("# test config\naddr = 127.0.0.1:0\ndata = \"from-file\"\nlog-level = warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // the data directory used
	}{
		{"file", nil, []string{"--config", conf}, "from-file"},
		{"env config file", map[string]string{"CAIRN_CONFIG": conf}, nil, "from-file"},
		{"env over file", map[string]string{"CAIRN_DATA": "from-env"}, []string{"--config", conf}, "from-env"},
		{"flag over env", map[string]string{"CAIRN_DATA": "from-env"}, []string{"--config", conf, "--data", "from-flag"}, "from-flag"},
		{"default", nil, []string{"--addr", "127.0.0.1:0"}, "cairn-data"},
		{"db and blobs", nil, []string{"--addr", "127.0.0.1:0", "--db", "sqlite:own/meta.db", "--blobs", "file:own/b"}, "own"},
		{"db and blobs as URLs", map[string]string{"CAIRN_DB": "sqlite://own/meta.db", "CAIRN_BLOBS": "file://own/b"}, []string{"--addr", "127.0.0.1:0"}, "own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wd := t.TempDir()
			s := serveInProcess(t, wd, tt.env, tt.args...)
			if !strings.HasPrefix(s.first, "http://127.0.0.1:") {
				t.Fatalf("serve printed %q, want its URL", s.first)
			}
			cl := client.New(s.first)
			if err := cl.Ready(context.Background()); err != nil {
				t.Fatalf("readyz: %v", err)
			}
			if code := s.stop(); code != 0 {
				t.Fatalf("serve exited %d; stderr:\n%s", code, s.stderr.String())
			}
			db, blobs := filepath.Join(wd, tt.want, "cairn.db"), filepath.Join(wd, tt.want, "blobs")
			if tt.want == "own" {
				db, blobs = filepath.Join(wd, "own", "meta.db"), filepath.Join(wd, "own", "b")
			}
			for _, p := range []string{db, blobs} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("want %s: %v", p, err)
				}
			}
			entries, _ := os.ReadDir(wd)
			if len(entries) != 1 {
				t.Errorf("work directory holds %d entries, want only %s", len(entries), tt.want)
			}
		})
	}
}

func TestServeWarnsOffLoopbackAndPrintsJSON(t *testing.T) {
	t.Parallel()
	wd := t.TempDir()
	s := serveInProcess(t, wd, nil, "--addr", "0.0.0.0:0", "--json", "--log-format", "json")
	var out struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(s.first), &out); err != nil || !strings.HasPrefix(out.URL, "http://127.0.0.1:") {
		t.Fatalf("serve --json printed %q, want {\"url\": \"http://127.0.0.1:…\"}", s.first)
	}
	if err := client.New(out.URL).Health(context.Background()); err != nil {
		t.Fatalf("the printed URL does not reach the server: %v", err)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	stderr := s.stderr.String()
	if !strings.Contains(stderr, "NO AUTHENTICATION") {
		t.Errorf("no warning about a non-loopback address on stderr:\n%s", stderr)
	}
	var sawStopped bool
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(line, "WARNING:") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("--log-format json wrote a line that is not JSON: %q", line)
		}
		if rec["msg"] == "stopped" {
			sawStopped = true
		}
	}
	if !sawStopped {
		t.Errorf("no graceful stop logged:\n%s", stderr)
	}
}

func TestServeBadSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badConf := filepath.Join(dir, "bad.conf")
	os.WriteFile(badConf, []byte("adr = 127.0.0.1:0\n"), 0o644)
	busy := serveInProcess(t, t.TempDir(), nil, "--addr", "127.0.0.1:0")
	busyAddr := strings.TrimPrefix(busy.first, "http://")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown config key", []string{"--config", badConf}, 1, `unknown setting "adr"`},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.conf")}, 1, "config file"},
		{"log level", []string{"--log-level", "loud"}, 2, "log-level"},
		{"pg conns", []string{"--pg-max-conns", "-3"}, 2, "pg-max-conns"},
		{"pg conns on sqlite", []string{"--addr", "127.0.0.1:0", "--pg-max-conns", "8"}, 1, "applies to postgres:// databases only"},
		{"db scheme", []string{"--addr", "127.0.0.1:0", "--db", "mysql://x"}, 1, "unsupported database URL"},
		{"blob scheme", []string{"--addr", "127.0.0.1:0", "--blobs", "gs://bucket"}, 1, "unsupported blob store URL"},
		{"bad s3 url", []string{"--addr", "127.0.0.1:0", "--blobs", "s3://"}, 1, "S3 bucket"},
		{"address in use", []string{"--addr", busyAddr}, 1, "listen on " + busyAddr},
		{"argument", []string{"extra"}, 2, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := cli.Run(context.Background(), append([]string{"serve"}, tt.args...), cli.Env{
				Stdout: &stdout, Stderr: &stderr, Dir: t.TempDir(),
				Getenv: func(string) string { return "" },
			})
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.msg) || !strings.HasPrefix(stderr.String(), "cairn: ") {
				t.Errorf("stderr %q, want cairn: …%s…", stderr.String(), tt.msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}
