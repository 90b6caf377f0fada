package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/bench"
)

// TestServerMemoryFlat pushes and pulls a 2 GiB file through a real
// `cairn serve` and checks that the server's peak resident memory
// (VmHWM) grows by less than 64 MiB: no request or response body is ever
// held whole in memory, whatever its size (DESIGN.md, "Moving bytes").
func TestServerMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes and pulls 2 GiB; skipped with -short")
	}
	const (
		size      = 2 << 30
		maxGrowth = 64 << 20
		needDisk  = 6 << 30 // the source, the server's staged parts and blob, then the pulled copy
	)
	tmp := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(tmp, &fs); err != nil {
		t.Fatal(err)
	}
	if free := int64(fs.Bavail) * int64(fs.Bsize); free < needDisk {
		t.Fatalf("only %.1f GiB free in %s; this test needs 6 GiB (a 2 GiB file, the server's copy of it while parts are joined, and the pulled copy). Free some disk or point TMPDIR elsewhere",
			float64(free)/(1<<30), tmp)
	}

	srv := startServer(t, "--data", filepath.Join(tmp, "data"))
	c := ctx(t, 10*time.Minute)
	cl := client.New(srv.URL, client.WithUser("e2e"))
	if err := cl.Health(c); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ListModels(c, client.ListRequest{}); err != nil {
		t.Fatal(err)
	}
	before := vmHWM(t, srv.PID)
	bytesInBefore := metricSum(t, cl, "cairn_http_bytes_in_total")

	src := filepath.Join(tmp, "weights.bin")
	var seed [32]byte
	copy(seed[:], "cairn e2e memory test, 2 GiB!!!")
	start := time.Now()
	if err := bench.WriteRandomFile(src, size, seed); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d MiB in %s", size>>20, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	res, err := cl.Push(c, "memory-flat", []string{src}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatalf("push: %v\nserver stderr:\n%s", err, srv.stderr)
	}
	pushTook := time.Since(start)
	if res.BytesUploaded != size || len(res.Version.Files) != 1 || res.Version.Files[0].Size != size {
		t.Fatalf("push uploaded %d bytes, version %+v", res.BytesUploaded, res.Version)
	}
	afterPush := vmHWM(t, srv.PID)
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}

	// The server's own count of request body bytes: the 2 GiB did go
	// through HTTP (not, say, a shortcut on the shared disk).
	in := metricSum(t, cl, "cairn_http_bytes_in_total") - bytesInBefore
	if in < size || in > size+size/100 {
		t.Errorf("server counted %d request body bytes for a %d-byte push", in, int64(size))
	}

	dst := filepath.Join(tmp, "pulled")
	start = time.Now()
	v, err := cl.Pull(c, res.Version.Ref(), dst, client.PullOptions{})
	if err != nil {
		t.Fatalf("pull: %v\nserver stderr:\n%s", err, srv.stderr)
	}
	pullTook := time.Since(start)
	// Pull verified the digest; check the file is really there.
	fi, err := os.Stat(filepath.Join(dst, "weights.bin"))
	if err != nil || fi.Size() != size || v.Files[0].Digest != res.Version.Files[0].Digest {
		t.Fatalf("pulled file: %v, %v", fi, err)
	}
	os.RemoveAll(dst)
	after := vmHWM(t, srv.PID)

	mib := func(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
	t.Logf("push %s (%.0f MiB/s), pull %s (%.0f MiB/s); server VmHWM %s at start, %s after push, %s after pull",
		pushTook.Round(time.Millisecond), float64(size>>20)/pushTook.Seconds(),
		pullTook.Round(time.Millisecond), float64(size>>20)/pullTook.Seconds(),
		mib(before), mib(afterPush), mib(after))
	if growth := after - before; growth >= maxGrowth {
		t.Errorf("server peak RSS grew by %s across a 2 GiB push and pull; want less than %s", mib(growth), mib(maxGrowth))
	}
}

// vmHWM returns a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	kib, err := bench.ProcStatusKiB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	return kib << 10
}

// metricSum sums every sample of a metric family on the server's /metrics.
func metricSum(t *testing.T, cl *client.Client, name string) int64 {
	t.Helper()
	text, err := cl.Metrics(ctx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += int64(n)
	}
	return sum
}
