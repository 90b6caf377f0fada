package cli

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn/internal/registry"
)

// auditConfig is the resolved audit checkpoint settings of serve.
type auditConfig struct {
	key    ed25519.PrivateKey // nil: no checkpoints
	policy registry.CheckpointPolicy
}

// auditSettings reads the checkpoint key and policy.
func (a *app) auditSettings(s *serveSettings) (auditConfig, error) {
	var cfg auditConfig
	every, err := strconv.ParseInt(s.auditEvery, 10, 64)
	if err != nil || every < 1 {
		return cfg, fmt.Errorf("audit-checkpoint-every %q: want a number of entries, at least 1", s.auditEvery)
	}
	interval, err := time.ParseDuration(s.auditInterval)
	if err != nil || interval < time.Second {
		return cfg, fmt.Errorf("audit-checkpoint-interval %q: want a duration of at least 1s, such as 10m", s.auditInterval)
	}
	cfg.policy = registry.CheckpointPolicy{Every: every, Interval: interval}
	if s.auditKey == "" {
		return cfg, nil
	}
	if cfg.key, err = readAuditPrivateKey(a.path(s.auditKey)); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// checkpointTick is how often the checkpoint loop looks at the audit log:
// often enough that "every N entries" is kept closely, rarely enough to
// cost nothing (one counter read a tick).
func checkpointTick(interval time.Duration) time.Duration {
	return min(interval, 5*time.Second)
}

// startCheckpoints runs the checkpoint loop until stop is called.
func startCheckpoints(ctx context.Context, svc *registry.Service, logger *slog.Logger, cfg auditConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.RunCheckpoints(ctx, cfg.policy, checkpointTick(cfg.policy.Interval), func(err error) {
			logger.Error("audit checkpoint", "err", err)
		})
	}()
	return func() {
		cancel()
		<-done
	}
}
