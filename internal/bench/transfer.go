package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// GiB is 2^30 bytes.
const GiB = 1 << 30

// TransferOptions shape the push and pull measurement.
type TransferOptions struct {
	// Size of the generated file (default 1 GiB).
	Size int64
	// Dir is where the file and the pulled copy are written (default the
	// system temporary directory); both are removed afterwards. It needs
	// twice Size free.
	Dir string
	// Model pushed to (default "bench-transfer").
	Model string
	// ServerPID, if set, is the server's process id on this machine: its
	// peak and current resident memory are then reported around the
	// transfers.
	ServerPID int
}

// Transfer measures a push and a pull of one generated pseudo-random file
// of opts.Size bytes through the client's Push and Pull, as a user would
// run them: the push hashes the file, creates the version, uploads the
// blob in parts (the client's defaults) and finalizes; the pull resolves
// the version and downloads the file through a hasher, verifying its
// digest, into a new directory. The content is new on every call, so the
// server cannot skip the upload.
func (t *Target) Transfer(ctx context.Context, opts TransferOptions) (push, pull *Result, err error) {
	if opts.Size <= 0 {
		opts.Size = GiB
	}
	if opts.Model == "" {
		opts.Model = "bench-transfer"
	}
	dir, err := os.MkdirTemp(opts.Dir, "cairn-bench-transfer-")
	if err != nil {
		return nil, nil, fmt.Errorf("bench: transfer: %w", err)
	}
	defer os.RemoveAll(dir)

	src := filepath.Join(dir, "weights.bin")
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	if err := WriteRandomFile(src, opts.Size, seed); err != nil {
		return nil, nil, err
	}
	// Transfers may take long: no overall timeout, unlike the load
	// client, and enough connections for the client's parallel parts.
	hc := NewHTTPClient(2 * client.DefaultParallel)
	hc.Timeout = 0
	defer hc.CloseIdleConnections()
	cl := client.New(t.URL, client.WithHTTPClient(hc), client.WithUser("cairn-bench"), client.WithUserAgent("cairn-bench"))

	mem := func() string {
		if opts.ServerPID <= 0 {
			return ""
		}
		hwm, err1 := ProcStatusKiB(opts.ServerPID, "VmHWM")
		rss, err2 := ProcStatusKiB(opts.ServerPID, "VmRSS")
		if err1 != nil || err2 != nil {
			return "server memory unreadable"
		}
		return fmt.Sprintf("server VmHWM %d MiB, VmRSS %d MiB", hwm>>10, rss>>10)
	}
	before := mem()

	t0 := time.Now()
	pr, err := cl.Push(ctx, opts.Model, []string{src}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("bench: push: %w", err)
	}
	push = transferResult(ScenarioPush, time.Since(t0), opts.Size)
	push.Note = fmt.Sprintf("client.Push of %s: hash, create, %d-MiB parts ×%d in parallel, finalize; %s uploaded",
		formatSize(opts.Size), client.DefaultPartSize>>20, client.DefaultParallel, formatSize(pr.BytesUploaded))
	if pr.BytesUploaded != opts.Size {
		return push, nil, fmt.Errorf("bench: push uploaded %d bytes, not %d: the server had the content already?", pr.BytesUploaded, opts.Size)
	}
	afterPush := mem()

	// The source is no longer needed: free the disk before pulling.
	_ = os.Remove(src)
	dst := filepath.Join(dir, "pulled")
	t0 = time.Now()
	if _, err := cl.Pull(ctx, pr.Version.Ref(), dst, client.PullOptions{}); err != nil {
		return push, nil, fmt.Errorf("bench: pull: %w", err)
	}
	pull = transferResult(ScenarioPull, time.Since(t0), opts.Size)
	pull.Note = fmt.Sprintf("client.Pull of %s: resolve, download through sha256, verify, rename", pr.Version.Ref())
	if before != "" {
		push.Note += "; before: " + before + ", after: " + afterPush
		pull.Note += "; after: " + mem()
	}
	return push, pull, nil
}

func transferResult(name string, d time.Duration, size int64) *Result {
	r := &Result{Name: name, Concurrency: 1, Requests: 1, Elapsed: d, Mean: d, P50: d, P90: d, P99: d, Max: d, Bytes: size}
	if d > 0 {
		r.RPS = 1 / d.Seconds()
		r.MiBps = float64(size) / (1 << 20) / d.Seconds()
	}
	return r
}

// WriteRandomFile writes size pseudo-random bytes (ChaCha8 from seed) to a
// new file at path, streaming in 1 MiB chunks, and syncs it. A few
// hundred MiB/s; never more than a chunk in memory.
func WriteRandomFile(path string, size int64, seed [32]byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bench: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err := io.Copy(f, RandomReader(size, seed)); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return f.Sync()
}

// RandomReader returns a reader of size pseudo-random bytes from seed.
func RandomReader(size int64, seed [32]byte) io.Reader {
	return io.LimitReader(mrand.NewChaCha8(seed), size)
}

func formatSize(n int64) string {
	switch {
	case n >= GiB && n%GiB == 0:
		return fmt.Sprintf("%d GiB", n/GiB)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
