package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// cairnBin is the binary built by TestMain, shared by the tests.
var cairnBin string

// TestMain builds the real binary once, as a user would run it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cairnBin = filepath.Join(dir, "cairn")
	if out, err := exec.Command("go", "build", "-o", cairnBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a process to write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is one running `cairn serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

// startServe runs `cairn serve` with args and the extra environment env on
// a free loopback port and waits for the URL it prints.
func startServe(t *testing.T, bin string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "CAIRN_LOG_LEVEL=warn"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "http://127.0.0.1:") {
			t.Fatalf("cairn serve printed %q, want its URL; stderr:\n%s", line, s.stderr.String())
		}
		s.url = line
	case <-time.After(30 * time.Second):
		t.Fatalf("cairn serve printed no URL in 30s; stderr:\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and checks that the server stops gracefully, exit 0.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("cairn serve exited with %v after SIGTERM; stderr:\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("cairn serve did not stop within 30s of SIGTERM")
	}
}

// TestTwoServersShareOneDataDirectory runs two `cairn serve` processes on
// one --data directory (one SQLite database in WAL mode, one blob
// directory) and pushes to one model through both at once. Version numbers
// must come out exactly 1..N: no gap, no duplicate. Two processes share no
// memory, so this holds only if the database allocates the numbers.
func TestTwoServersShareOneDataDirectory(t *testing.T) {
	data := t.TempDir()
	servers := []*server{startServe(t, cairnBin, nil, "--data", data), startServe(t, cairnBin, nil, "--data", data)}
	pushThroughBoth(t, servers)
	for _, s := range servers {
		s.stop(t)
	}
	// The data directory holds what the default promises.
	for _, p := range []string{"cairn.db", "blobs"} {
		if _, err := os.Stat(filepath.Join(data, p)); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
}

// TestTwoServersOnPostgresAndS3 is the scale-out set-up: two replicas on
// one PostgreSQL database and one S3 bucket, configured by CAIRN_*
// variables as a deployment would.
func TestTwoServersOnPostgresAndS3(t *testing.T) {
	pg := testenv.PostgresURL(t)
	s3 := testenv.S3(t)
	env := []string{
		"CAIRN_DB=" + pg,
		"CAIRN_BLOBS=s3://" + s3.Bucket + "/registry?endpoint=" + url.QueryEscape(s3.Endpoint) + "&region=" + s3.Region,
		"CAIRN_PG_MAX_CONNS=4",
		"AWS_ACCESS_KEY_ID=" + s3.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3.SecretKey,
	}
	data := t.TempDir() // must stay empty: nothing is kept locally
	servers := []*server{startServe(t, cairnBin, env, "--data", data), startServe(t, cairnBin, env, "--data", data)}
	pushThroughBoth(t, servers)

	// A version pushed through one replica pulls through the other, byte
	// for byte.
	ctx := context.Background()
	src := t.TempDir()
	payload := bytes.Repeat([]byte("large-ish weights "), 1<<16)
	if err := os.WriteFile(filepath.Join(src, "w.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := client.New(servers[0].url).Push(ctx, "llm", []string{src}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := client.New(servers[1].url).Pull(ctx, res.Version.Ref(), dst, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "w.bin"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("pulled %d bytes (%v), want the %d pushed", len(got), err, len(payload))
	}
	for _, s := range servers {
		s.stop(t)
	}
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("--data holds %d entries with PostgreSQL and S3 configured, want none", len(entries))
	}
}

// pushThroughBoth pushes distinct content to one model from 16 goroutines,
// 3 pushes each, alternating between the servers, and checks that the
// versions are numbered exactly 1..48 and that both servers see them all.
func pushThroughBoth(t *testing.T, servers []*server) {
	t.Helper()
	if servers[0].url == servers[1].url {
		t.Fatalf("both servers listen on %s", servers[0].url)
	}
	clients := []*client.Client{
		client.New(servers[0].url, client.WithUser("proc-a")),
		client.New(servers[1].url, client.WithUser("proc-b")),
	}

	const workers, pushesEach = 16, 3
	const total = workers * pushesEach
	src := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var (
		mu     sync.Mutex
		got    []int64
		wg     sync.WaitGroup
		errs   = make(chan error, total)
		digest = map[int64]cairn.Digest{}
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := clients[w%2]
			for i := range pushesEach {
				dir := filepath.Join(src, fmt.Sprintf("w%d-p%d", w, i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					errs <- err
					return
				}
				content := fmt.Sprintf("weights of worker %d push %d\n", w, i)
				if err := os.WriteFile(filepath.Join(dir, "model.bin"), []byte(content), 0o644); err != nil {
					errs <- err
					return
				}
				res, err := cl.Push(ctx, "churn", []string{dir}, cairn.VersionSpec{
					Metrics: map[string]float64{"worker": float64(w)},
				}, client.PushOptions{})
				if err != nil {
					errs <- fmt.Errorf("worker %d push %d: %w", w, i, err)
					return
				}
				if res.Existing {
					errs <- fmt.Errorf("worker %d push %d: distinct content was taken for a repeat of %s", w, i, res.Version.Ref())
					return
				}
				mu.Lock()
				got = append(got, res.Version.Number)
				digest[res.Version.Number] = res.Version.Digest
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	slices.Sort(got)
	want := make([]int64, total)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("version numbers handed out = %v, want exactly 1..%d", got, total)
	}
	if n := len(digest); n != total {
		t.Fatalf("%d distinct versions recorded, want %d", n, total)
	}

	// Each server sees every version, ready, as the other wrote it.
	for i, cl := range clients {
		page, err := cl.ListVersions(ctx, "churn", client.ListRequest{PageSize: 1000})
		if err != nil {
			t.Fatalf("server %d: list: %v", i, err)
		}
		var listed []int64
		for _, v := range page.Items {
			if v.Status != cairn.StatusReady {
				t.Errorf("server %d: %s is %s, want ready", i, v.Ref(), v.Status)
			}
			if v.Digest != digest[v.Number] {
				t.Errorf("server %d: %s has digest %s, want %s", i, v.Ref(), v.Digest, digest[v.Number])
			}
			listed = append(listed, v.Number)
		}
		slices.Sort(listed)
		if !slices.Equal(listed, want) {
			t.Errorf("server %d lists versions %v, want 1..%d", i, listed, total)
		}
		m, err := cl.GetModel(ctx, "churn")
		if err != nil {
			t.Fatal(err)
		}
		if m.LatestVersion != total {
			t.Errorf("server %d: latest_version = %d, want %d", i, m.LatestVersion, total)
		}
	}
}
