package cli

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// defaultPresignTTL is how long a presigned download URL stays valid when
// --presign-downloads is given without a duration: long enough to start a
// large download (an object store checks the URL when the GET begins, not
// while it streams), short enough that a leaked URL soon stops working.
const defaultPresignTTL = 15 * time.Minute

// markOptionalValue lets the --presign-downloads flag stand alone: given
// without =VALUE it means the default lifetime.
func markOptionalValue(fs *pflag.FlagSet) {
	if f := fs.Lookup("presign-downloads"); f != nil {
		f.NoOptDefVal = defaultPresignTTL.String()
	}
	if f := fs.Lookup("auth"); f != nil {
		f.NoOptDefVal = "true"
	}
}

// presignTTL parses the presign-downloads setting: empty, off, false or 0
// (off); on or true (the default lifetime); or a duration up to 7 days
// (S3's limit for presigned URLs).
func presignTTL(v string) (time.Duration, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "off", "false", "0", "no":
		return 0, nil
	case "on", "true", "1", "yes":
		return defaultPresignTTL, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > 7*24*time.Hour {
		return 0, cairn.Errorf(cairn.EINVALID, "presign-downloads %q: want on, off, or a lifetime such as 15m (at most 168h)", v)
	}
	return d, nil
}

// gcSchedule parses the gc-interval and gc-grace settings. An empty or 0
// interval means no scheduled collection.
func gcSchedule(interval, grace string) (time.Duration, time.Duration, error) {
	var iv, gr time.Duration
	if interval != "" && interval != "0" {
		d, err := time.ParseDuration(interval)
		if err != nil || d < time.Minute {
			return 0, 0, cairn.Errorf(cairn.EINVALID, "gc-interval %q: want a duration of at least 1m, such as 6h, or 0 for none", interval)
		}
		iv = d
	}
	if grace != "" {
		d, err := time.ParseDuration(grace)
		if err != nil || d <= 0 {
			return 0, 0, cairn.Errorf(cairn.EINVALID, "gc-grace %q: want a positive duration such as 24h", grace)
		}
		gr = d
	}
	return iv, gr, nil
}

// presigns reports whether a blob store can hand out presigned URLs.
func presigns(blobs cairn.BlobStore) bool {
	_, ok := blobs.(interface {
		PresignGet(ctx context.Context, d cairn.Digest, ttl time.Duration) (string, error)
	})
	return ok
}

// startGC runs a garbage collection (deleting) every interval until the
// returned stop is called. Every replica may run it: the registry lets one
// collection run at a time across all of them.
func startGC(ctx context.Context, svc *registry.Service, logger *slog.Logger, interval, grace time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunGC(cairn.NewContextWithActor(ctx, cairn.Actor{Name: "cairn-gc", Verified: true}), interval, registry.GCOptions{Grace: grace},
			func(rep *registry.GCReport) {
				logger.Info("garbage collection", "scanned", rep.Scanned, "deleted", rep.Deleted,
					"bytes_freed", rep.BytesFreed, "young", rep.Young, "rescued", rep.Rescued)
			},
			func(err error) { logger.Error("garbage collection", "err", err) })
	}()
	return func() {
		cancel()
		<-done
	}
}
