package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cairn-registry/cairn"
)

// blobJob is one digest to copy and whether its absence from the source is
// an error (the blob of a ready version) or expected (a pending or failed
// version's upload that never finished).
type blobJob struct {
	d        cairn.Digest
	size     int64
	required bool
	ref      string
}

// copyBlobs copies the files of vs that the target lacks, BlobWorkers at a
// time, each streaming from the source's Open to the target's Put, which
// verifies the digest.
func (c *copier) copyBlobs(ctx context.Context, vs []*cairn.Version) error {
	return c.copyBlobJobs(ctx, versionBlobJobs(c.done, vs))
}

// versionBlobJobs lists the files of vs not done yet, once per digest; a
// blob is required if a ready version has it.
func versionBlobJobs(done map[cairn.Digest]bool, vs []*cairn.Version) []blobJob {
	var jobs []blobJob
	idx := map[cairn.Digest]int{}
	for _, v := range vs {
		for _, f := range v.Files {
			if done[f.Digest] {
				continue
			}
			req := v.Status == cairn.StatusReady
			if i, ok := idx[f.Digest]; ok {
				jobs[i].required = jobs[i].required || req
				continue
			}
			idx[f.Digest] = len(jobs)
			jobs = append(jobs, blobJob{d: f.Digest, size: f.Size, required: req, ref: v.Ref() + "/" + f.Path})
		}
	}
	return jobs
}

// copyBlobJobs copies the blobs of jobs that the target lacks.
func (c *copier) copyBlobJobs(ctx context.Context, jobs []blobJob) error {
	jobs = slices.DeleteFunc(jobs, func(j blobJob) bool { return c.done[j.d] })
	if len(jobs) == 0 {
		return nil
	}
	type result struct {
		state blobState
		bytes int64
		err   error
	}
	results := make([]result, len(jobs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.opts.BlobWorkers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				state, n, err := c.copyBlob(ctx, jobs[i])
				results[i] = result{state: state, bytes: n, err: err}
				if err != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var errs []error
	for i, r := range results {
		switch {
		case r.err != nil:
			if !errors.Is(r.err, context.Canceled) || len(errs) == 0 {
				errs = append(errs, r.err)
			}
		case r.state == blobCopied:
			c.done[jobs[i].d] = true
			c.rep.Copied[KindBlobs]++
			c.rep.BlobBytes += r.bytes
		case r.state == blobPresent:
			c.done[jobs[i].d] = true
			c.rep.Skipped[KindBlobs]++
		case r.state == blobAbsent:
			c.done[jobs[i].d] = true
			c.rep.AbsentBlobs++
		}
	}
	if len(errs) > 0 {
		// The first real failure, not the cancellations it caused.
		slices.SortStableFunc(errs, func(a, b error) int {
			return boolInt(errors.Is(a, context.Canceled)) - boolInt(errors.Is(b, context.Canceled))
		})
		return errs[0]
	}
	return ctx.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// blobState is what copyBlob found.
type blobState int

const (
	blobFailed  blobState = iota
	blobCopied            // copied now
	blobPresent           // the target had it
	blobAbsent            // neither store has it, and the job allows that
)

// copyBlob copies one blob unless the target has it, and says how many
// bytes it copied. A blob the source lacks is an error if the job
// requires it.
func (c *copier) copyBlob(ctx context.Context, j blobJob) (blobState, int64, error) {
	if _, err := c.dst.Blobs.Stat(ctx, j.d); err == nil {
		return blobPresent, 0, nil
	} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return blobFailed, 0, fmt.Errorf("target blob %s: %w", j.d, err)
	}
	r, size, err := c.src.Blobs.Open(ctx, j.d)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		if j.required {
			return blobFailed, 0, cairn.WrapError(cairn.EFAILEDPRECONDITION, err,
				"the source blob store lacks blob %s of %s, a ready version", j.d, j.ref)
		}
		return blobAbsent, 0, nil
	}
	if err != nil {
		return blobFailed, 0, fmt.Errorf("source blob %s: %w", j.d, err)
	}
	defer r.Close()
	cr := &countingReader{r: r}
	if err := c.dst.Blobs.Put(ctx, j.d, size, cr); err != nil {
		return blobFailed, 0, fmt.Errorf("copy blob %s (%s): %w", j.d, j.ref, err)
	}
	return blobCopied, cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
