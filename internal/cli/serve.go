package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/webhook"
	"github.com/cairn-registry/cairn/internal/webui"
	"github.com/spf13/cobra"
)

// Server timing. There is deliberately no WriteTimeout: it would cut off
// every download that takes longer, whatever its progress.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 30 * time.Second
	expiryInterval    = time.Minute
	maxHeaderBytes    = 1 << 20
)

// serverGCPercent is the garbage collector's GOGC for the server when the
// environment does not set GOGC. The server's live heap is small (tens of
// MiB) and every read allocates its rows and its answer, so with Go's
// default of 100 it collected many times a second under load. At 400 the
// heap may grow to five times the live heap between collections: on the
// 2-core bench machine, in three alternating turns, MLflow's search went
// from 590-708 to 713-849 req/s and the native model list from 1,208-1,247
// to 1,378-1,664, for a peak resident set of 73 instead of 56 MiB
// (docs/benchmarks.md). GOGC and GOMEMLIMIT in the environment apply as
// usual (docs/deploy.md).
const serverGCPercent = 400

func (a *app) serveCommand() *cobra.Command {
	s := newServeSettings()
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the Cairn server",
		Long: `Run the Cairn server: the REST API under /api/v1, /healthz, /readyz and
/metrics. With no settings it keeps everything under ./cairn-data: a SQLite
database (cairn.db) and a blob directory (blobs). For many replicas, point
every one at the same PostgreSQL database and S3 bucket:

  cairn serve --addr :8080 --db postgres://cairn@db/cairn \
      --blobs 's3://models/cairn?endpoint=https://s3.example.com&region=us-east-1'

Each setting comes from its flag, else its CAIRN_* environment variable
(CAIRN_ADDR, CAIRN_DATA, CAIRN_DB, CAIRN_BLOBS, CAIRN_PG_MAX_CONNS,
CAIRN_PRESIGN_DOWNLOADS, CAIRN_GC_INTERVAL, CAIRN_GC_GRACE,
CAIRN_WEBHOOK_ALLOW_CIDRS, CAIRN_WEBHOOK_RETRY_WINDOW, CAIRN_AUTH, CAIRN_AUTH_CACHE_TTL,
CAIRN_AUDIT_KEY, CAIRN_AUDIT_CHECKPOINT_EVERY, CAIRN_AUDIT_CHECKPOINT_INTERVAL,
CAIRN_LOG_LEVEL, CAIRN_LOG_FORMAT), else the config file (--config or
CAIRN_CONFIG), else its default. The config file holds key = value lines
with the flags' names as keys, and '#' comments:

  # /etc/cairn/cairn.conf
  addr = 0.0.0.0:8080
  db = postgres://cairn@db.internal/cairn
  pg-max-conns = 20

The server prints the URL it listens on to stdout (with --json, an object
with url), logs to stderr, and stops gracefully on SIGINT or SIGTERM.

Without --auth every caller may do everything (the single-user laptop
mode): keep such a server on a loopback address. With --auth (CAIRN_AUTH,
or auth = true in the config file) every request must carry a token or a
user name and password, and roles decide what it may do. The first start
with auth on and no users creates the user admin with the admin role and
prints its API token on stderr, once; there is no default password. See
docs/security.md.

With --audit-key FILE (from cairn audit keygen) the server signs
checkpoints of the audit chain, every --audit-checkpoint-every entries or
--audit-checkpoint-interval, so that cairn audit verify --public-key can
tell a rewritten or truncated log. See docs/audit.md.`,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := s.resolve(c, a.getenv, a.path); err != nil {
				return err
			}
			return a.serve(c, s)
		},
	}
	s.register(c.Flags())
	return c
}

// serve wires the stores, the registry and the HTTP API, and runs until
// the command's context ends.
func (a *app) serve(c *cobra.Command, s *serveSettings) error {
	ctx := c.Context()
	if a.getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	logger, err := newLogger(a.stderr(), s.logLevel, s.logFormat)
	if err != nil {
		return asUsage(c, err)
	}
	var pgMaxConns int
	if s.pgMaxConns != "" {
		if pgMaxConns, err = strconv.Atoi(s.pgMaxConns); err != nil || pgMaxConns < 0 {
			return usageErr(c, "pg-max-conns %q: want a number of connections", s.pgMaxConns)
		}
	}

	var authCacheTTL time.Duration
	if s.authCacheTTL != "" {
		if authCacheTTL, err = time.ParseDuration(s.authCacheTTL); err != nil || authCacheTTL < 0 || authCacheTTL > time.Minute {
			return usageErr(c, "auth-cache-ttl %q: want a duration from 0 (off) to 1m, such as 5s", s.authCacheTTL)
		}
		if authCacheTTL == 0 {
			authCacheTTL = -1 // off
		}
	}

	store, storeDesc, err := a.openStore(ctx, s, pgMaxConns)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the metadata store", "err", err)
		}
	}()
	blobs, blobsDesc, err := a.openBlobs(ctx, s)
	if err != nil {
		return err
	}
	if cl, ok := blobs.(interface{ Close() error }); ok {
		defer cl.Close()
	}

	presign, err := presignTTL(s.presign)
	if err != nil {
		return asUsage(c, err)
	}
	if presign > 0 && !presigns(blobs) {
		return usageErr(c, "presign-downloads needs an S3 blob store (--blobs s3://…); %s cannot presign", blobsDesc)
	}
	gcInterval, gcGrace, err := gcSchedule(s.gcInterval, s.gcGrace)
	if err != nil {
		return asUsage(c, err)
	}

	allowCIDRs, retryWindow, err := webhookSettings(s.webhookAllow, s.webhookWindow)
	if err != nil {
		return asUsage(c, err)
	}

	auth, err := parseAuth(s.auth)
	if err != nil {
		return asUsage(c, err)
	}
	audit, err := a.auditSettings(s)
	if err != nil {
		return asUsage(c, err)
	}
	var approvalTTL time.Duration
	if s.approvalTTL != "" {
		if approvalTTL, err = time.ParseDuration(s.approvalTTL); err != nil || approvalTTL < time.Minute {
			return cairn.Errorf(cairn.EINVALID, "approval-ttl %q: want a duration of at least 1m, such as 72h", s.approvalTTL)
		}
	}
	svc := registry.New(store, blobs, registry.Options{Auth: auth, Logger: logger, AuditKey: audit.key, ApprovalTTL: approvalTTL, AuthCacheTTL: authCacheTTL})
	if auth {
		if err := a.bootstrapAdmin(ctx, svc, logger); err != nil {
			return err
		}
	}
	// Every replica runs a dispatcher; leases in the store keep them from
	// sending one subscription's events twice.
	dispatcher := webhook.New(store, webhook.Options{AllowCIDRs: allowCIDRs, RetryWindow: retryWindow, Logger: logger})
	api := httpapi.New(svc, httpapi.Options{
		Logger: logger, PresignDownloads: presign, Webhooks: dispatcher, ExtraMetrics: dispatcher.WriteMetrics,
	})
	mlflowapi.New(svc, mlflowapi.Options{Logger: logger, Webhooks: dispatcher}).Register(api.Mount)
	for _, p := range mlflowapi.PartPrefixes() {
		// Multipart part URLs carry their own capability (the upload id).
		api.AllowCapability("PUT", p)
	}
	webui.Register(api.MountPublic)

	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", s.addr, err),
			"choose another address with --addr or CAIRN_ADDR (port 0 picks a free one)")
	}
	u := "http://" + dialAddr(ln.Addr())
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	logger.Info("cairn serving", "url", u, "db", storeDesc, "blobs", blobsDesc)
	if !auth && !isLoopback(ln.Addr()) {
		logger.Warn("listening on a non-loopback address without authentication: anyone who can reach " + u +
			" can read, push, move aliases and delete; bind to 127.0.0.1 or keep the network trusted")
		fmt.Fprintf(a.stderr(), "WARNING: cairn is listening on %s, reachable from other machines, with NO AUTHENTICATION (start it with --auth).\n", ln.Addr())
	}
	// One line either way, so that a supervisor can read it as soon as
	// the server listens.
	line := u
	if a.json {
		b, _ := json.Marshal(map[string]string{"url": u})
		line = string(b)
	}
	if _, err := fmt.Fprintln(a.stdout(), line); err != nil {
		ln.Close()
		return err
	}

	expiryCtx, stopExpiry := context.WithCancel(context.WithoutCancel(ctx))
	expiryDone := make(chan struct{})
	go func() {
		defer close(expiryDone)
		svc.RunExpiry(expiryCtx, expiryInterval, func(err error) {
			logger.Error("expiring uploads and pending versions", "err", err)
		})
	}()
	defer func() {
		stopExpiry()
		<-expiryDone
	}()
	if gcInterval > 0 {
		defer startGC(ctx, svc, logger, gcInterval, gcGrace)()
	}
	defer startWebhooks(ctx, dispatcher, logger)()
	if audit.key != nil {
		defer startCheckpoints(ctx, svc, logger, audit)()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("graceful shutdown did not finish; closing connections", "err", err)
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// parseAuth parses the auth setting.
func parseAuth(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "off", "false", "0", "no":
		return false, nil
	case "on", "true", "1", "yes":
		return true, nil
	}
	return false, fmt.Errorf("auth %q: want true or false", v)
}

// bootstrapAdmin creates the first administrator when auth is on and the
// registry has no users, and prints its token on stderr: once, never in
// the log, never stored in clear.
func (a *app) bootstrapAdmin(ctx context.Context, svc *registry.Service, logger *slog.Logger) error {
	secret, err := svc.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("create the first admin: %w", err)
	}
	if secret == "" {
		return nil
	}
	logger.Warn("auth is on and the registry had no users: created user " + registry.BootstrapAdmin + " with the admin role on *; its token is printed on stderr, once")
	fmt.Fprintf(a.stderr(), `cairn: auth is on and the registry had no users: created user %q with the admin role on *.
cairn: its API token, shown this once (only its SHA-256 is stored):

    %s

cairn: use it (export CAIRN_TOKEN=…), create named users and tokens
cairn: (cairn users create, cairn roles grant, cairn tokens create), and keep
cairn: this one in a secret manager or revoke it.
`, registry.BootstrapAdmin, secret)
	return nil
}

// openStore opens the metadata store --db names: PostgreSQL for a
// postgres:// URL, else SQLite at a path (default <data>/cairn.db).
// Both bring the schema up to date.
func (a *app) openStore(ctx context.Context, s *serveSettings, pgMaxConns int) (cairn.Store, string, error) {
	db := s.db
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		st, err := postgres.Open(ctx, db, postgres.Options{MaxConns: pgMaxConns})
		if err != nil {
			return nil, "", fmt.Errorf("open database %s: %w", redactURL(db), err)
		}
		return st, redactURL(db), nil
	case strings.HasPrefix(db, "sqlite://"):
		db = strings.TrimPrefix(db, "sqlite://")
	case strings.Contains(db, "://"):
		return nil, "", cairn.Errorf(cairn.EINVALID, "unsupported database URL %s: want postgres://… or a SQLite file path", redactURL(db))
	}
	if pgMaxConns > 0 {
		return nil, "", cairn.Errorf(cairn.EINVALID, "pg-max-conns is set but the database is SQLite; it applies to postgres:// databases only")
	}
	path := strings.TrimPrefix(db, "sqlite:")
	if path == "" {
		path = filepath.Join(s.data, "cairn.db")
	}
	path = a.path(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w", path, err)
	}
	return st, "sqlite:" + path, nil
}

// openBlobs opens the blob store --blobs names: S3 for s3://, else a
// directory (default <data>/blobs), created if missing.
func (a *app) openBlobs(ctx context.Context, s *serveSettings) (cairn.BlobStore, string, error) {
	b := s.blobs
	switch {
	case strings.HasPrefix(b, "s3://"):
		return openS3(ctx, b)
	case strings.Contains(b, "://") && !strings.HasPrefix(b, "file://"):
		return nil, "", cairn.Errorf(cairn.EINVALID, "unsupported blob store URL %s: want s3://… or a directory", redactURL(b))
	}
	dir := strings.TrimPrefix(strings.TrimPrefix(b, "file://"), "file:")
	if dir == "" {
		dir = filepath.Join(s.data, "blobs")
	}
	dir = a.path(dir)
	st, err := fsblob.New(dir)
	if err != nil {
		return nil, "", fmt.Errorf("open blob directory %s: %w", dir, err)
	}
	return st, "file:" + dir, nil
}

// redactURL hides a password in a URL for logs and messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// dialAddr is the address to reach a listener at: a wildcard listener
// (0.0.0.0, [::]) is reached on this host through the loopback address.
func dialAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// isLoopback reports whether addr accepts connections only from this host.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// newLogger returns the server's structured logger on w.
func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", format)
}
