// Package bench is Cairn's load generator and benchmark kit, behind
// `cairn bench`: a closed-loop load engine with a log-linear latency
// histogram, the HTTP scenarios of the read and write paths (resolve an
// alias, get a version, list and search versions, create and finalize a
// version), 1 GiB push and pull throughput, a bulk seeder that fills a
// registry with up to millions of versions through the registry service, and
// a bare baseline server (net/http plus one SQLite primary-key lookup)
// against which every figure of a run is compared.
//
// Load goes only where the caller points it; nothing here picks a target on
// its own. Benchmarks are not part of the test suite (.ci/run); the tests
// of this package only check that the kit measures correctly.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound a load run: it stops when Duration has passed or Requests
// operations have been started, whichever comes first. At least one of the
// two must be set.
type Options struct {
	// Concurrency is the number of closed-loop workers, each with at most
	// one operation in flight: the number of connections to the server.
	Concurrency int
	// Duration bounds the measured part of the run; 0 means no bound.
	Duration time.Duration
	// Requests bounds the number of measured operations; 0 means no bound.
	Requests int64
	// Warmup runs the operation unmeasured for this long first, so that
	// connections are open and caches warm when measuring starts.
	Warmup time.Duration
	// Seed makes the workers' random choices repeatable; 0 picks one.
	Seed uint64
}

// Worker is one closed-loop worker's state, handed to each operation.
type Worker struct {
	// ID is the worker's index, 0 to Concurrency-1.
	ID int
	// Rand is the worker's own random source; no locking needed.
	Rand *rand.Rand
	// Bytes is what an operation adds the payload bytes it moved to, for
	// throughput figures.
	Bytes int64
}

// Op is one operation of a scenario: one request, or a few that make up a
// unit of work (create, upload, finalize). A nil return counts as success.
type Op func(ctx context.Context, w *Worker) error

// Result is what a run measured. Latencies are of successful operations;
// failed ones are counted in Errors, with the first error kept as an
// example.
type Result struct {
	Name        string        `json:"name"`
	Concurrency int           `json:"concurrency"`
	Requests    uint64        `json:"requests"` // successful operations
	Errors      uint64        `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	RPS         float64       `json:"rps"` // successful operations per second
	Mean        time.Duration `json:"mean_ns"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
	Bytes       int64         `json:"bytes,omitempty"`
	MiBps       float64       `json:"mib_per_s,omitempty"`
	// Note carries what a reader needs to interpret the figure (data set
	// size, verification on or off, …).
	Note string `json:"note,omitempty"`
	// Baseline is the baseline measured in turns with this scenario by
	// RunPaired, nil otherwise.
	Baseline *Result `json:"baseline,omitempty"`

	hist Histogram // the latencies, so that results can be merged
}

// Ratio returns r's req/s over its paired baseline's, or 0 without one.
func (r *Result) Ratio() float64 {
	if r.Baseline == nil || r.Baseline.RPS == 0 {
		return 0
	}
	return r.RPS / r.Baseline.RPS
}

// Run drives op with opts.Concurrency closed-loop workers until the run's
// bound is reached or ctx is done, and returns the measurements. It returns
// an error only for invalid options or if ctx ended before anything was
// measured.
func Run(ctx context.Context, name string, opts Options, op Op) (*Result, error) {
	if opts.Concurrency < 1 {
		return nil, fmt.Errorf("bench: concurrency must be at least 1, got %d", opts.Concurrency)
	}
	if opts.Duration <= 0 && opts.Requests <= 0 {
		return nil, errors.New("bench: a run needs a duration or a request count")
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	workers := make([]*Worker, opts.Concurrency)
	for i := range workers {
		workers[i] = &Worker{ID: i, Rand: rand.New(rand.NewPCG(seed, uint64(i)))}
	}

	if opts.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, opts.Warmup)
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				for wctx.Err() == nil {
					_ = op(wctx, w)
				}
			})
		}
		wg.Wait()
		cancel()
		for _, w := range workers {
			w.Bytes = 0
		}
	}

	// The clock starts before the deadline is set, so that the measured
	// window is never shorter than Duration (a run descheduled between the
	// two, as on a loaded machine, measured 199.9 ms of a 200 ms run).
	begin := time.Now()
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if opts.Duration > 0 {
		rctx, cancel = context.WithTimeout(ctx, opts.Duration)
	}
	defer cancel()

	var (
		started  atomic.Int64
		errCount atomic.Uint64
		firstErr atomic.Pointer[string]
		hists    = make([]Histogram, opts.Concurrency)
		wg       sync.WaitGroup
	)
	for i, w := range workers {
		h := &hists[i]
		wg.Go(func() {
			for rctx.Err() == nil {
				if opts.Requests > 0 && started.Add(1) > opts.Requests {
					return
				}
				t0 := time.Now()
				err := op(rctx, w)
				d := time.Since(t0)
				if err != nil {
					// An operation cut short by the end of the run is not
					// the server's failure.
					if rctx.Err() != nil && ctx.Err() == nil {
						return
					}
					errCount.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				h.Record(d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("bench: %s interrupted: %w", name, ctx.Err())
	}

	r := &Result{Name: name, Concurrency: opts.Concurrency, Errors: errCount.Load(), Elapsed: elapsed}
	for i := range hists {
		r.hist.Merge(&hists[i])
	}
	if p := firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	for _, w := range workers {
		r.Bytes += w.Bytes
	}
	r.summarize()
	return r, nil
}

// summarize computes r's figures from its histogram, elapsed time and
// byte count.
func (r *Result) summarize() {
	r.Requests = r.hist.Count()
	r.Mean, r.Max = r.hist.Mean(), r.hist.Max()
	r.P50, r.P90, r.P99 = r.hist.Quantile(0.50), r.hist.Quantile(0.90), r.hist.Quantile(0.99)
	r.RPS, r.MiBps = 0, 0
	if r.Elapsed > 0 {
		r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
		if r.Bytes > 0 {
			r.MiBps = float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
		}
	}
}

// merge adds o's measurements to r, as if they were one run: requests,
// errors, bytes and measured time add up, latencies merge.
func (r *Result) merge(o *Result) {
	r.hist.Merge(&o.hist)
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Bytes += o.Bytes
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	r.summarize()
}

// RunPaired measures op and a baseline operation in turns, rounds times
// each, every turn opts.Duration/rounds (or opts.Requests/rounds
// operations) after a warm-up, and returns op's merged result with the
// baseline's attached. On a shared machine whose capacity moves from
// second to second, the two then see the same machine, and their ratio
// means something even when the absolute figures do not. The first turn
// of each warms up for opts.Warmup, later ones for at most a second
// (connections stay open between turns).
func RunPaired(ctx context.Context, name string, opts Options, rounds int, op, baseline Op) (*Result, error) {
	if rounds < 1 {
		return nil, fmt.Errorf("bench: rounds must be at least 1, got %d", rounds)
	}
	turn := opts
	turn.Duration = opts.Duration / time.Duration(rounds)
	turn.Requests = opts.Requests / int64(rounds)
	if (opts.Duration > 0 && turn.Duration <= 0) || (opts.Requests > 0 && turn.Requests <= 0) {
		return nil, fmt.Errorf("bench: %d rounds leave nothing to measure in each", rounds)
	}
	var res, base *Result
	for i := range rounds {
		if i == 1 {
			turn.Warmup = min(opts.Warmup, time.Second)
		}
		if turn.Seed != 0 {
			turn.Seed += uint64(i)
		}
		b, err := Run(ctx, "baseline", turn, baseline)
		if err != nil {
			return nil, err
		}
		r, err := Run(ctx, name, turn, op)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			res, base = r, b
			continue
		}
		res.merge(r)
		base.merge(b)
	}
	res.Baseline = base
	return res, nil
}

// NewHTTPClient returns the client every worker of a run shares: keep-alive
// with up to concurrency connections to the one host, all kept open between
// requests (the default of two idle ones would make most workers reconnect
// on every request), no proxy from the environment (load goes exactly where
// it is pointed), no transparent compression (it would measure gzip, not
// the server).
func NewHTTPClient(concurrency int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			// A request that finds no idle connection dials a new one, even
			// if another frees up before the dial completes; bound the
			// total so the run uses exactly as many connections as
			// workers.
			MaxConnsPerHost:    concurrency,
			IdleConnTimeout:    90 * time.Second,
			DisableCompression: true,
			ForceAttemptHTTP2:  false,
		},
		Timeout: 60 * time.Second,
	}
}
