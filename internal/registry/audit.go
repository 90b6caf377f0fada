package registry

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/cairn-registry/cairn"
)

// VerifyAudit walks the whole audit chain and its checkpoints (see
// cairn.VerifyAudit), checking checkpoint signatures with the server's
// checkpoint key if it has one. A broken chain is reported in the
// report's Problem, not as an error. Admin only.
func (s *Service) VerifyAudit(ctx context.Context) (*cairn.AuditReport, error) {
	if err := s.authorizeAll(ctx, cairn.RoleAdmin); err != nil {
		return nil, err
	}
	var pub ed25519.PublicKey
	if s.auditKey != nil {
		pub = s.auditKey.Public().(ed25519.PublicKey)
	}
	return cairn.VerifyAudit(ctx, s.store, pub)
}

// ListAuditCheckpoints lists signed checkpoints with a sequence number
// above after, in order; limit 0 means 100.
func (s *Service) ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*cairn.AuditCheckpoint, error) {
	if err := s.authorizeAll(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, cairn.Errorf(cairn.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	if after < 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "after must not be negative")
	}
	return s.store.ListAuditCheckpoints(ctx, after, limit)
}

// auditCheckpointLease names the lease that lets one replica at a time
// write checkpoints, so that N replicas do not write N checkpoints each
// period.
const auditCheckpointLease = "audit-checkpoint"

// CheckpointPolicy says when RunCheckpoints writes a checkpoint: once
// Every entries have been appended since the last one, or Interval has
// passed since it and at least one entry was appended.
type CheckpointPolicy struct {
	Every    int64
	Interval time.Duration
}

// checkpointer remembers the last checkpoint seen, so that each tick reads
// only the checkpoints written since (by this replica or another).
type checkpointer struct {
	holder   string
	lease    time.Duration // how long the lease lasts unless renewed
	lastSeq  int64
	lastTime time.Time
}

// Checkpoint signs the audit chain's current head with the server's key
// and stores it, unless the policy says it is not due yet (force ignores
// the policy) or the head is checkpointed already. It returns the
// checkpoint written, or nil. EFAILEDPRECONDITION if the server has no
// checkpoint key.
func (s *Service) Checkpoint(ctx context.Context, force bool) (*cairn.AuditCheckpoint, error) {
	return s.checkpoint(ctx, &checkpointer{holder: newID()}, CheckpointPolicy{}, force)
}

func (s *Service) checkpoint(ctx context.Context, cp *checkpointer, pol CheckpointPolicy, force bool) (*cairn.AuditCheckpoint, error) {
	if s.auditKey == nil {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "this server has no audit checkpoint key")
	}
	var out *cairn.AuditCheckpoint
	err := s.store.Update(ctx, func(tx cairn.Tx) error {
		now := cairn.Timestamp(s.now())
		if !force {
			ok, err := tx.AcquireLease(ctx, auditCheckpointLease, cp.holder, now, now.Add(cp.lease))
			if err != nil || !ok {
				return err
			}
		}
		for {
			cs, err := tx.ListAuditCheckpoints(ctx, cp.lastSeq, MaxPageSize)
			if err != nil {
				return err
			}
			for _, c := range cs {
				cp.lastSeq, cp.lastTime = c.Seq, c.Time
			}
			if len(cs) < MaxPageSize {
				break
			}
		}
		head, err := tx.AuditHead(ctx)
		if err != nil || head == 0 || head <= cp.lastSeq {
			return err
		}
		if !force && head-cp.lastSeq < pol.Every && now.Sub(cp.lastTime) < pol.Interval {
			return nil
		}
		es, err := tx.ListAudit(ctx, cairn.AuditQuery{AfterSeq: head - 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(es) == 0 || es[0].Seq != head {
			return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d, the head, is missing; the chain is broken", head)
		}
		c := &cairn.AuditCheckpoint{Seq: head, Hash: es[0].Hash, Time: now}
		c.Sign(s.auditKey)
		if err := tx.PutAuditCheckpoint(ctx, c); err != nil {
			if cairn.IsCode(err, cairn.ECONFLICT) {
				return nil
			}
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	if out != nil {
		cp.lastSeq, cp.lastTime = out.Seq, out.Time
	}
	return out, nil
}

// RunCheckpoints writes checkpoints by pol until ctx ends, looking every
// tick. Several replicas may run it: a lease lets one write at a time.
// Errors go to onErr; the loop carries on.
func (s *Service) RunCheckpoints(ctx context.Context, pol CheckpointPolicy, tick time.Duration, onErr func(error)) {
	// Renewed every tick; another replica takes over three ticks after
	// the holder stopped.
	cp := &checkpointer{holder: newID(), lease: 3 * tick}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.checkpoint(ctx, cp, pol, false); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ResolveAt resolves a reference as of a time: an alias to the version it
// pointed at then (from the alias's history; ENOTFOUND if it had not been
// set yet or had been deleted), a version number to the version if it
// existed then. NAME and NAME@latest are EINVALID: which version was the
// latest is not kept.
func (s *Service) ResolveAt(ctx context.Context, ref string, at time.Time) (*cairn.Version, error) {
	p, err := cairn.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleReader, p.Model); err != nil {
		return nil, err
	}
	stamp := at.UTC().Format(time.RFC3339Nano)
	switch p.Kind {
	case cairn.RefAlias:
		a, err := s.aliasAt(ctx, p.Model, p.Alias, at)
		if err != nil {
			return nil, err
		}
		return getVersion(ctx, s.store, p.Model, a.Version)
	case cairn.RefVersion:
		v, err := getVersion(ctx, s.store, p.Model, p.Version)
		if err != nil {
			return nil, err
		}
		if v.CreatedAt.After(at) {
			return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s did not exist at %s (created %s)", v.Ref(), stamp, v.CreatedAt.Format(time.RFC3339Nano))
		}
		return v, nil
	}
	return nil, cairn.Errorf(cairn.EINVALID, "%q cannot be resolved as of a time: which version was the latest is not recorded; name an alias or a version", ref)
}

// GetAliasAt returns an alias as it was at a time: the version it pointed
// at and who moved it there when. ENOTFOUND if the model does not exist,
// or the alias had not been set by then or had been deleted.
func (s *Service) GetAliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.Alias, error) {
	if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
		return nil, err
	}
	if err := cairn.ValidateAliasName(alias); err != nil {
		return nil, err
	}
	return s.aliasAt(ctx, model, alias, at)
}

func (s *Service) aliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.Alias, error) {
	if _, err := getModel(ctx, s.store, model); err != nil {
		return nil, err
	}
	stamp := at.UTC().Format(time.RFC3339Nano)
	m, err := s.store.AliasAt(ctx, model, alias, at)
	if err != nil {
		return nil, notFound(err, "alias %s@%s was not set at %s", model, alias, stamp)
	}
	if m.To == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s had been deleted at %s (by %s at %s)", model, alias, stamp, m.Actor, m.At.Format(time.RFC3339Nano))
	}
	return &cairn.Alias{Model: model, Name: alias, Version: m.To, UpdatedBy: m.Actor, UpdatedAt: m.At}, nil
}
