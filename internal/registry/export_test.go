package registry

import (
	"context"

	"github.com/cairn-registry/cairn"
)

// SetSignalThresholds replaces the policy lookup of signal thresholds, for
// tests that exercise flagging without writing a policy.
func (s *Service) SetSignalThresholds(fn func(ctx context.Context, r cairn.Reader, model, kind string) (float64, bool, error)) {
	s.thresholds = fn
}
