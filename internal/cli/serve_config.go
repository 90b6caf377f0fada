package cli

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A serve setting is read from, in order: its flag, its CAIRN_* environment
// variable, the config file, its default. The config file is lines of
// key = value, keys spelled as the flags (addr, data, db, …), '#' starting
// a comment line; an unknown key is an error, so a typo never goes unseen.

// setting is one server setting: a flag, its variable and its file key.
type setting struct {
	key   string // flag name and config file key
	env   string // environment variable
	value *string
	def   string
	usage string
	// secret settings are never echoed in logs (database URLs carry
	// passwords).
	secret bool
	// repeat settings take their flag more than once; the values join
	// with commas, as the variable and the file spell a list.
	repeat bool
}

// serveSettings are the values of `cairn serve`, once resolved.
type serveSettings struct {
	addr, data, db, blobs, pgMaxConns, logLevel, logFormat string
	presign, gcInterval, gcGrace, auth                     string
	webhookAllow, webhookWindow                            string
	auditKey, auditEvery, auditInterval                    string
	approvalTTL, authCacheTTL                              string
	config                                                 string
	list                                                   []*setting
}

func newServeSettings() *serveSettings {
	s := &serveSettings{}
	s.list = []*setting{
		{key: "addr", env: "CAIRN_ADDR", value: &s.addr, def: "127.0.0.1:8080",
			usage: "address to listen on, host:port (port 0 picks a free one)"},
		{key: "data", env: "CAIRN_DATA", value: &s.data, def: "./cairn-data",
			usage: "data directory: the SQLite database and blobs live here unless --db/--blobs say otherwise"},
		{key: "db", env: "CAIRN_DB", value: &s.db, secret: true,
			usage: "metadata database: a SQLite file path or sqlite:PATH, or a postgres:// URL (default <data>/cairn.db)"},
		{key: "blobs", env: "CAIRN_BLOBS", value: &s.blobs, secret: true,
			usage: "blob storage: a directory or file:DIR, or s3://bucket/prefix?endpoint=…&region=… (default <data>/blobs)"},
		{key: "pg-max-conns", env: "CAIRN_PG_MAX_CONNS", value: &s.pgMaxConns,
			usage: "PostgreSQL connection pool size per server (default: the URL's pool_max_conns, or max(4, CPUs))"},
		{key: "presign-downloads", env: "CAIRN_PRESIGN_DOWNLOADS", value: &s.presign,
			usage: "answer blob downloads with a redirect to a presigned URL of the S3 bucket, valid this long (alone: 15m), so bytes bypass the server"},
		{key: "gc-interval", env: "CAIRN_GC_INTERVAL", value: &s.gcInterval,
			usage: "run garbage collection (deleting) this often, such as 6h; safe on every replica at once (default: never)"},
		{key: "gc-grace", env: "CAIRN_GC_GRACE", value: &s.gcGrace,
			usage: "scheduled garbage collection keeps unreferenced blobs younger than this (default 24h)"},
		{key: "webhook-allow-cidr", env: "CAIRN_WEBHOOK_ALLOW_CIDRS", value: &s.webhookAllow, repeat: true,
			usage: "let webhook deliveries reach this private, loopback or link-local range, such as 10.1.0.0/16 (repeat, or comma-separate; refused by default)"},
		{key: "webhook-retry-window", env: "CAIRN_WEBHOOK_RETRY_WINDOW", value: &s.webhookWindow,
			usage: "retry a failed webhook delivery this long before dead-lettering it (default 24h)"},
		{key: "approval-ttl", env: "CAIRN_APPROVAL_TTL", value: &s.approvalTTL,
			usage: "close an approval request that has not got its approvals after this long (default 168h)"},
		{key: "auth", env: "CAIRN_AUTH", value: &s.auth, def: "false",
			usage: "require authentication (tokens, or user and password) and enforce roles; the first start with no users creates an admin and prints its token once (alone: true)"},
		{key: "auth-cache-ttl", env: "CAIRN_AUTH_CACHE_TTL", value: &s.authCacheTTL,
			usage: "with --auth, reuse an authenticated token's or password's principal and roles this long without reading the database (0 turns it off, at most 1m); changes made on this replica apply at once, on other replicas within this long (default 5s)"},
		{key: "audit-key", env: "CAIRN_AUDIT_KEY", value: &s.auditKey,
			usage: "ed25519 private key file (PEM, from cairn audit keygen) that signs audit checkpoints; without it no checkpoints are written"},
		{key: "audit-checkpoint-every", env: "CAIRN_AUDIT_CHECKPOINT_EVERY", value: &s.auditEvery, def: "1000",
			usage: "with --audit-key, sign a checkpoint once this many audit entries were appended since the last one"},
		{key: "audit-checkpoint-interval", env: "CAIRN_AUDIT_CHECKPOINT_INTERVAL", value: &s.auditInterval, def: "1h",
			usage: "with --audit-key, sign a checkpoint at least this often while entries are appended"},
		{key: "log-level", env: "CAIRN_LOG_LEVEL", value: &s.logLevel, def: "info",
			usage: "log level: debug, info, warn or error"},
		{key: "log-format", env: "CAIRN_LOG_FORMAT", value: &s.logFormat, def: "text",
			usage: "log format on stderr: text or json"},
	}
	return s
}

// register declares the flags. Flag defaults are left empty so that an
// unset flag can fall through to the environment and the file; the help
// text names the real default.
func (s *serveSettings) register(fs *pflag.FlagSet) {
	for _, st := range s.list {
		usage := st.usage + " (env " + st.env + ")"
		if st.def != "" {
			usage = fmt.Sprintf("%s (env %s; default %q)", st.usage, st.env, st.def)
		}
		if st.repeat {
			fs.Var(joinValue{st.value}, st.key, usage)
			continue
		}
		fs.StringVar(st.value, st.key, "", usage)
	}
	markOptionalValue(fs)
	fs.StringVar(&s.config, "config", "", "config file of key = value lines, keys named as these flags (env CAIRN_CONFIG)")
}

// resolve fills every setting by precedence: flag, environment, file,
// default.
func (s *serveSettings) resolve(c *cobra.Command, getenv func(string) string, path func(string) string) error {
	cfgPath := s.config
	if !c.Flags().Changed("config") {
		cfgPath = getenv("CAIRN_CONFIG")
	}
	var file map[string]string
	if cfgPath != "" {
		var err error
		if file, err = readConfigFile(path(cfgPath), s.keys()); err != nil {
			return err
		}
	}
	for _, st := range s.list {
		if c.Flags().Changed(st.key) {
			continue
		}
		if v := getenv(st.env); v != "" {
			*st.value = v
		} else if v, ok := file[st.key]; ok {
			*st.value = v
		} else {
			*st.value = st.def
		}
	}
	return nil
}

func (s *serveSettings) keys() []string {
	keys := make([]string, len(s.list))
	for i, st := range s.list {
		keys[i] = st.key
	}
	return keys
}

// readConfigFile parses a key = value file.
func readConfigFile(path string, known []string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "config file")
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, cairn.Errorf(cairn.EINVALID, "config file %s:%d: want key = value", path, n)
		}
		if !slices.Contains(known, k) {
			return nil, cairn.Errorf(cairn.EINVALID, "config file %s:%d: unknown setting %q (known: %s)", path, n, k, strings.Join(known, ", "))
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "config file %s", path)
	}
	return out, nil
}
