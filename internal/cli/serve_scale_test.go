package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/cli"
)

// Bad scale-out settings stop serve before it listens, with exit code 2:
// presigned downloads on a store that cannot presign, malformed lifetimes
// and schedules, from flags and from the environment alike.
func TestServeScaleSettingsRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"presign on a directory", []string{"--presign-downloads"}, nil, "needs an S3 blob store"},
		{"presign from env on a directory", nil, map[string]string{"CAIRN_PRESIGN_DOWNLOADS": "on"}, "needs an S3 blob store"},
		{"presign lifetime", []string{"--presign-downloads=forever"}, nil, "presign-downloads"},
		{"presign too long", []string{"--presign-downloads=200h"}, nil, "at most 168h"},
		{"gc interval", []string{"--gc-interval", "soon"}, nil, "gc-interval"},
		{"gc interval too short", nil, map[string]string{"CAIRN_GC_INTERVAL": "1s"}, "at least 1m"},
		{"gc grace", []string{"--gc-interval", "1h", "--gc-grace", "-5m"}, nil, "gc-grace"},
		{"auth cache ttl", []string{"--auth", "--auth-cache-ttl", "soon"}, nil, "auth-cache-ttl"},
		{"auth cache ttl too long", []string{"--auth", "--auth-cache-ttl", "2m"}, nil, "0 (off) to 1m"},
		{"auth cache ttl negative", []string{"--auth"}, map[string]string{"CAIRN_AUTH_CACHE_TTL": "-1s"}, "auth-cache-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)
			code := cli.Run(context.Background(), args, cli.Env{
				Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return tc.env[k] },
			})
			if code != 2 || !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
				t.Errorf("cairn %s = %d\nstdout: %s\nstderr: %s\nwant exit 2 and %q", strings.Join(args, " "), code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

// Presigning off and a schedule given: the server starts and serves.
func TestServeWithGCSchedule(t *testing.T) {
	t.Parallel()
	s := serveInProcess(t, t.TempDir(), map[string]string{"CAIRN_PRESIGN_DOWNLOADS": "off"},
		"--addr", "127.0.0.1:0", "--gc-interval", "1h", "--gc-grace", "48h")
	if !strings.HasPrefix(s.first, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want the URL", s.first)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d\n%s", code, s.stderr.String())
	}
}
