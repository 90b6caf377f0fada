package cli

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cairn-registry/cairn/internal/bench"
	"github.com/spf13/cobra"
)

// benchSettings are the flags of `cairn bench`.
type benchSettings struct {
	concurrency  int
	duration     time.Duration
	requests     int64
	warmup       time.Duration
	scenarios    []string
	baseline     bool
	rounds       int
	baselineRows int64
	baselineDir  string
	baselineURL  string
	baselineDB   string
	transferMiB  int64
	transferDir  string
	serverPID    int
}

func (a *app) benchCommand() *cobra.Command {
	s := &benchSettings{}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure a server: req/s and latency of the hot paths, push and pull MiB/s",
		Long: `Measure a running server (--url or CAIRN_URL) with closed-loop load:
--concurrency workers, each one request in flight on its own keep-alive
connection, for --duration (or --requests operations in all) after a
--warmup. Scenarios, in order:

  resolve  GET /api/v1/resolve/{model}@{alias}, random aliased model
  get      GET /api/v1/models/{model}/versions/{n}, random version
  list     GET /api/v1/models/{model}/versions?page_size=100
  search   the same list with filter "` + bench.SearchFilter + `"
           (across all models if the server has GET /api/v1/versions)
  create   create a version with one 64-byte file, upload it, finalize
  push     client push of a generated --transfer-mib file (one push)
  pull     client pull of it, verifying the digest (one pull)

Not run unless named in --scenarios: MLflow's front door beside the native
equivalent of each (they use only MLflow's API, so they also measure an
MLflow server given as --url, for reference):

  models         GET /api/v1/models?page_size=100
  search-tag     GET /api/v1/versions?page_size=100, filter "` + bench.TagFilter + `"
  mlflow-alias   GET /api/2.0/mlflow/registered-models/alias   (~ resolve)
  mlflow-get     GET /api/2.0/mlflow/model-versions/get        (~ get)
  mlflow-search  GET /api/2.0/mlflow/registered-models/search,
                 max_results=100                               (~ models)
  mlflow-versions GET /api/2.0/mlflow/model-versions/search,
                 max_results=100, the same filter and order  (~ search-tag)
  mlflow-create  POST /api/2.0/mlflow/model-versions/create, an s3://
                 source without files                          (~ create)

The server needs data to read: fill it first with 'cairn bench seed'.
With --baseline (the default) a bare reference server runs in this
process: net/http doing one SQLite primary-key lookup in a table of
--baseline-rows rows and answering 300 bytes of JSON. Each load scenario
and the baseline take turns, --rounds times each (a 10 s duration in 5
rounds is 5 turns of 2 s each), so that both see the same machine; the
scenario's req/s is shown as a ratio to its baseline's, which means more
than absolute numbers on a shared machine whose capacity moves by the
second.

The create scenario adds versions to models named bench-create-*, and
push stores a new --transfer-mib blob on the server at every run (model
bench-transfer): point it at a registry made for benchmarks.

Load goes only to --url; run it on the server's machine or next to it.
The results table (or --json) goes to stdout, with the machine it ran on;
progress goes to stderr.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error { return a.runBench(c, s) },
	}
	f := c.Flags()
	f.IntVar(&s.concurrency, "concurrency", 32, "concurrent workers (connections)")
	f.DurationVar(&s.duration, "duration", 10*time.Second, "how long each load scenario runs (0: until --requests)")
	f.Int64Var(&s.requests, "requests", 0, "stop each load scenario after this many operations (0: no limit)")
	f.DurationVar(&s.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario")
	f.StringSliceVar(&s.scenarios, "scenarios", bench.Scenarios, "scenarios to run, comma-separated")
	f.BoolVar(&s.baseline, "baseline", true, "measure the bare baseline server in turns with each scenario")
	f.IntVar(&s.rounds, "rounds", 5, "turns of scenario and baseline each --duration is split into")
	f.Int64Var(&s.baselineRows, "baseline-rows", bench.DefaultBaselineRows, "rows in the baseline's table")
	f.StringVar(&s.baselineDir, "baseline-dir", "", "where the baseline database is kept between runs (default: the user cache directory)")
	f.StringVar(&s.baselineDB, "baseline-db", "", "run the in-process baseline on this PostgreSQL database (postgres://…; a table cairn_bench_items is made there) instead of SQLite, for a server on PostgreSQL")
	f.StringVar(&s.baselineURL, "baseline-url", "", "use the baseline served by 'cairn bench baseline' at this URL instead of one in this process (give the same --baseline-rows)")
	f.Int64Var(&s.transferMiB, "transfer-mib", 1024, "size of the pushed and pulled file, MiB")
	f.StringVar(&s.transferDir, "transfer-dir", "", "where the file and its pulled copy are written (default: the temporary directory); needs twice the size free")
	f.IntVar(&s.serverPID, "server-pid", 0, "the server's process id, if it runs on this machine: its memory is reported around push and pull")
	c.AddCommand(a.benchSeedCommand(), a.benchBaselineCommand())
	return c
}

// benchReport is the --json output of `cairn bench`.
type benchReport struct {
	Machine  bench.Machine `json:"machine"`
	URL      string        `json:"url"`
	Models   int           `json:"models"`
	Versions int64         `json:"versions"`
	// Baseline describes the baseline each result's baseline member
	// measured; "" if there is none.
	Baseline string          `json:"baseline,omitempty"`
	Results  []*bench.Result `json:"results"`
}

func (a *app) runBench(c *cobra.Command, s *benchSettings) error {
	ctx := c.Context()
	if s.concurrency < 1 {
		return usageErr(c, "--concurrency must be at least 1")
	}
	if s.duration <= 0 && s.requests <= 0 {
		return usageErr(c, "give --duration or --requests")
	}
	for _, sc := range s.scenarios {
		if !slices.Contains(bench.AllScenarios, sc) {
			return usageErr(c, "unknown scenario %q: want some of %s", sc, strings.Join(bench.AllScenarios, ","))
		}
	}
	if _, err := a.client(c); err != nil { // validates the URL
		return err
	}
	url := a.serverURL()
	opts := bench.Options{Concurrency: s.concurrency, Duration: s.duration, Requests: s.requests, Warmup: s.warmup}
	hc := bench.NewHTTPClient(s.concurrency)
	if tok := a.authToken(); tok != "" {
		// A server with auth on: every request of the load carries the
		// token, as a client's would, so the figures include its check.
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		hc.Transport = bearerTransport{token: tok, next: next}
	}
	rep := &benchReport{Machine: bench.ThisMachine(), URL: url}

	a.infof("bench: %s", rep.Machine)
	tg, err := bench.Discover(ctx, url, hc)
	if err != nil {
		return err
	}
	rep.Models, rep.Versions = tg.Models, tg.Versions
	a.infof("bench: %s holds %d models, %d versions in the models sampled", url, tg.Models, tg.Versions)

	if s.rounds < 1 {
		return usageErr(c, "--rounds must be at least 1")
	}
	var baseOp bench.Op
	baseHC := bench.NewHTTPClient(s.concurrency)
	defer baseHC.CloseIdleConnections()
	switch {
	case !s.baseline:
	case s.baselineURL != "":
		baseOp = bench.BaselineOp(baseHC, s.baselineURL, s.baselineRows)
		rep.Baseline = fmt.Sprintf("bare net/http + one SQLite primary-key lookup in a table of %d rows, ~300 bytes of JSON, served by another process at %s, in turns with each scenario (%d rounds)",
			s.baselineRows, s.baselineURL, s.rounds)
	case s.baselineDB != "":
		a.infof("bench: starting the PostgreSQL baseline server (%d rows in cairn_bench_items)…", s.baselineRows)
		base, err := bench.StartPostgresBaselineAt(ctx, "127.0.0.1:0", s.baselineDB, s.baselineRows)
		if err != nil {
			return err
		}
		defer base.Close()
		if base.Built > 0 {
			a.infof("bench: built the baseline table in %s", base.Built.Round(time.Millisecond))
		}
		baseOp = base.Op(baseHC)
		rep.Baseline = fmt.Sprintf("bare net/http + one pgx primary-key lookup in a PostgreSQL table of %d rows (pgxpool defaults), ~300 bytes of JSON, served in this process, in turns with each scenario (%d rounds)",
			s.baselineRows, s.rounds)
	default:
		dir, err := a.baselineDir(s.baselineDir)
		if err != nil {
			return err
		}
		a.infof("bench: starting the baseline server (%d rows in %s)…", s.baselineRows, dir)
		base, err := bench.StartBaseline(ctx, dir, s.baselineRows)
		if err != nil {
			return err
		}
		defer base.Close()
		if base.Built > 0 {
			a.infof("bench: built the baseline table in %s", base.Built.Round(time.Millisecond))
		}
		baseOp = base.Op(baseHC)
		rep.Baseline = fmt.Sprintf("bare net/http + one SQLite primary-key lookup in a table of %d rows, ~300 bytes of JSON, served in this process, in turns with each scenario (%d rounds)",
			s.baselineRows, s.rounds)
	}
	var transfer bool
	for _, name := range bench.AllScenarios {
		if !slices.Contains(s.scenarios, name) {
			continue
		}
		if name == bench.ScenarioPush || name == bench.ScenarioPull {
			transfer = true
			continue
		}
		op, note, err := tg.Op(name)
		if err != nil {
			return err
		}
		a.infof("bench: %s…", name)
		var r *bench.Result
		if baseOp != nil {
			r, err = bench.RunPaired(ctx, name, opts, s.rounds, op, baseOp)
		} else {
			r, err = bench.Run(ctx, name, opts, op)
		}
		if err != nil {
			return err
		}
		r.Note = note
		if r.Baseline != nil {
			r.Baseline.Note = "in turns with " + name
		}
		rep.Results = append(rep.Results, r)
	}
	if transfer {
		a.infof("bench: push and pull of %d MiB…", s.transferMiB)
		push, pull, err := tg.Transfer(ctx, bench.TransferOptions{
			Size: s.transferMiB << 20, Dir: a.path(s.transferDir), ServerPID: s.serverPID,
		})
		if err != nil {
			return err
		}
		for _, r := range []*bench.Result{push, pull} {
			if slices.Contains(s.scenarios, r.Name) {
				rep.Results = append(rep.Results, r)
			}
		}
	}

	if a.json {
		return a.printJSON(rep)
	}
	return a.printBench(rep)
}

// printBench writes the results table.
func (a *app) printBench(rep *benchReport) error {
	w := a.stdout()
	fmt.Fprintf(w, "machine: %s\n", rep.Machine)
	fmt.Fprintf(w, "server:  %s, %d models, %d versions\n\n", rep.URL, rep.Models, rep.Versions)
	t := newTable(w, "SCENARIO", "CONN", "REQ/S", "BASELINE", "RATIO", "P50", "P90", "P99", "BASELINE P99", "MAX", "ERRORS", "MIB/S")
	for _, r := range rep.Results {
		rps, base, ratio, baseP99, mibs := fmt.Sprintf("%.0f", r.RPS), "-", "-", "-", "-"
		if r.Baseline != nil {
			base, ratio, baseP99 = fmt.Sprintf("%.0f", r.Baseline.RPS), fmt.Sprintf("%.2f", r.Ratio()), ms(r.Baseline.P99)
		}
		if r.Name == bench.ScenarioPush || r.Name == bench.ScenarioPull {
			rps, mibs = "-", fmt.Sprintf("%.0f", r.MiBps)
		}
		t.row(r.Name, r.Concurrency, rps, base, ratio, ms(r.P50), ms(r.P90), ms(r.P99), baseP99, ms(r.Max), r.Errors, mibs)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-9s %s\n", r.Name+":", r.Note)
		if r.Errors > 0 {
			fmt.Fprintf(w, "%-9s first error: %s\n", "", r.FirstError)
		}
	}
	if rep.Baseline != "" {
		fmt.Fprintf(w, "%-9s %s\n", "baseline:", rep.Baseline)
	}
	return nil
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// benchSeedSettings are the flags of `cairn bench seed`.
type benchSeedSettings struct {
	data, db, blobs string
	models          int
	versions        int64
	batch           int
	viaService      bool
	randSeed        uint64
}

func (a *app) benchSeedCommand() *cobra.Command {
	s := &benchSeedSettings{}
	c := &cobra.Command{
		Use:   "seed",
		Short: "Fill a registry with many versions, fast, for benchmarks",
		Long: `Fill a registry with --versions versions spread over --models models
(bench-00000, bench-00001, …), for 'cairn bench' to read. It writes to the
stores directly, the way 'cairn serve' opens them (--data, --db, --blobs
as for serve), in transactions of --batch versions, through the registry
service's own code: the versions, their audit entries and events, the
models and the aliases champion and staging on each model are what pushes
through the API would have made, except that they commit in batches.
Running it again adds versions to the same models.

Each version has one small file (64 distinct blobs are shared), metrics
auc, accuracy and loss, params, a framework and tags team and env: the
bench's search filter matches about a fifth of them.

On a loaded two-core machine it adds about a thousand versions a second,
on SQLite and on PostgreSQL (the CPU cost is about 0.35 ms a version). A server
may run on the same data meanwhile; its writes wait for each batch.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error { return a.runBenchSeed(c, s) },
	}
	f := c.Flags()
	f.StringVar(&s.data, "data", "./cairn-data", "data directory, as for serve")
	f.StringVar(&s.db, "db", "", "metadata database, as for serve (default <data>/cairn.db)")
	f.StringVar(&s.blobs, "blobs", "", "blob storage, as for serve (default <data>/blobs)")
	f.IntVar(&s.models, "models", 1000, "number of models")
	f.Int64Var(&s.versions, "versions", 100_000, "number of versions to add, over all models")
	f.IntVar(&s.batch, "batch", 2000, "versions per transaction")
	f.BoolVar(&s.viaService, "via-service", false, "make every version through the service's create and finalize (slower; the default path writes the same records)")
	f.Uint64Var(&s.randSeed, "seed", 1, "random seed for metrics and tags")
	return c
}

func (a *app) runBenchSeed(c *cobra.Command, s *benchSeedSettings) error {
	ctx := c.Context()
	if s.models < 1 || s.versions < 0 || s.batch < 1 {
		return usageErr(c, "--models and --batch must be positive and --versions not negative")
	}
	ss := newServeSettings()
	ss.data, ss.db, ss.blobs = s.data, s.db, s.blobs
	store, storeDesc, err := a.openStore(ctx, ss, 0)
	if err != nil {
		return err
	}
	defer store.Close()
	blobs, blobsDesc, err := a.openBlobs(ctx, ss)
	if err != nil {
		return err
	}
	if cl, ok := blobs.(interface{ Close() error }); ok {
		defer cl.Close()
	}
	a.infof("bench seed: %d versions over %d models into %s, %s", s.versions, s.models, storeDesc, blobsDesc)
	var last time.Time
	res, err := bench.Seed(ctx, store, blobs, bench.SeedOptions{
		Models: s.models, Versions: s.versions, Batch: s.batch, ViaService: s.viaService, RandSeed: s.randSeed,
		Progress: func(done int64, elapsed time.Duration) {
			if time.Since(last) < 2*time.Second && done < s.versions {
				return
			}
			last = time.Now()
			a.infof("bench seed: %d/%d versions, %s, %.0f/s", done, s.versions, elapsed.Round(time.Second), float64(done)/elapsed.Seconds())
		},
	})
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout(), "seeded %d versions over %d models (%d alias moves) in %s: %.0f versions/s (%d CPUs)\n",
		res.Versions, res.Models, res.Aliases, res.Elapsed.Round(time.Millisecond), res.PerSec, runtime.NumCPU())
	return nil
}

// baselineDir returns where the baseline database lives: dir, or the user
// cache directory's cairn-bench, created if needed.
func (a *app) baselineDir(dir string) (string, error) {
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "cairn-bench")
	}
	dir = a.path(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("baseline directory: %w", err)
	}
	return dir, nil
}

func (a *app) benchBaselineCommand() *cobra.Command {
	var (
		addr, dir, db string
		rows          int64
	)
	c := &cobra.Command{
		Use:   "baseline",
		Short: "Serve the bare baseline on its own, for 'cairn bench --baseline-url'",
		Long: `Serve the baseline of 'cairn bench' as a process of its own, as the
server under test is: net/http doing one SQLite primary-key lookup in a
table of --baseline-rows rows, answering GET /items/{id} with ~300 bytes of
JSON (with --db, one pgx lookup in PostgreSQL instead). It prints its URL
on stdout and serves until interrupted. By default
'cairn bench' runs the baseline inside its own process instead; comparing
the two shows what sharing a process with the load generator is worth.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			d, err := a.baselineDir(dir)
			if err != nil {
				return err
			}
			var b *bench.Baseline
			if db != "" {
				b, err = bench.StartPostgresBaselineAt(c.Context(), addr, db, rows)
			} else {
				b, err = bench.StartBaselineAt(c.Context(), addr, d, rows)
			}
			if err != nil {
				return err
			}
			defer b.Close()
			if _, err := fmt.Fprintln(a.stdout(), b.URL); err != nil {
				return err
			}
			<-c.Context().Done()
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	c.Flags().StringVar(&dir, "baseline-dir", "", "where the baseline database is kept (default: the user cache directory)")
	c.Flags().StringVar(&db, "db", "", "serve the baseline from this PostgreSQL database (postgres://…; a table cairn_bench_items is made there) instead of SQLite")
	c.Flags().Int64Var(&rows, "baseline-rows", bench.DefaultBaselineRows, "rows in the baseline's table")
	return c
}

// bearerTransport adds a bearer token to every request it sends.
type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}
