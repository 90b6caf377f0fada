package registry

import (
	"context"

	"github.com/cairn-registry/cairn"
)

// SetAlias points model@alias at a version. With ifCurrent set the move is
// a compare-and-swap: it happens only if the alias points at *ifCurrent now
// (0 meaning "does not exist"), else ECONFLICT. The version must be ready
// and not archived. Every move is kept in the alias's history.
func (s *Service) SetAlias(ctx context.Context, model, alias string, version int64, ifCurrent *int64) (*cairn.Alias, error) {
	return s.SetAliasWith(ctx, model, alias, version, MoveOptions{IfCurrent: ifCurrent})
}

// MoveOptions are the optional parts of an alias move.
type MoveOptions struct {
	// IfCurrent makes the move a compare-and-swap (see SetAlias).
	IfCurrent *int64
	// Origin is kept in the alias history with the move: where an
	// imported move was first made (cairn import gto replays a GTO
	// repository's stage assignments with their tags, taggers and
	// dates). The move's actor and time stay who made it here and when.
	// A move that opens an approval request instead does not keep it.
	Origin *cairn.MoveOrigin
}

// SetAliasWith is SetAlias with every option. EINVALID if the origin is
// invalid.
func (s *Service) SetAliasWith(ctx context.Context, model, alias string, version int64, o MoveOptions) (*cairn.Alias, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
		return nil, err
	}
	if err := cairn.ValidateAliasName(alias); err != nil {
		return nil, err
	}
	if version < 1 {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid version number %d", version)
	}
	if o.Origin != nil {
		if err := o.Origin.Validate(); err != nil {
			return nil, err
		}
	}
	var out *cairn.Alias
	var pending *cairn.ApprovalRequest
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		m.origin = o.Origin
		var err error
		if pending, err = s.gatedMove(ctx, m, model, alias, version, o.IfCurrent); err != nil || pending != nil {
			return err
		}
		out, err = m.tx.GetAlias(ctx, model, alias)
		return err
	})
	if err == nil && pending != nil {
		return nil, pendingError(pending)
	}
	return out, err
}

// DeleteAlias removes an alias (recorded in its history). ifCurrent works
// as in SetAlias. ENOTFOUND if the alias does not exist. Deleting an alias
// a policy protects passes its gate like a move (see approvals.go):
// EPENDINGAPPROVAL naming the request opened instead.
func (s *Service) DeleteAlias(ctx context.Context, model, alias string, ifCurrent *int64) error {
	return s.DeleteAliasWith(ctx, model, alias, MoveOptions{IfCurrent: ifCurrent})
}

// DeleteAliasWith is DeleteAlias with every option (see MoveOptions).
func (s *Service) DeleteAliasWith(ctx context.Context, model, alias string, o MoveOptions) error {
	if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
		return err
	}
	if err := cairn.ValidateAliasName(alias); err != nil {
		return err
	}
	if o.Origin != nil {
		if err := o.Origin.Validate(); err != nil {
			return err
		}
	}
	var pending *cairn.ApprovalRequest
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		if _, err := m.tx.GetAlias(ctx, model, alias); err != nil {
			return notFound(err, "alias %q of model %q not found", alias, model)
		}
		m.origin = o.Origin
		var err error
		pending, err = s.gatedMove(ctx, m, model, alias, 0, o.IfCurrent)
		return err
	})
	if err == nil && pending != nil {
		return pendingError(pending)
	}
	return err
}

// moveAlias moves (to > 0) or deletes (to == 0) an alias inside a mutation
// whose model row is locked. Setting an alias to where it points already
// changes nothing and records nothing.
func (s *Service) moveAlias(ctx context.Context, m *mutation, model, alias string, to int64, ifCurrent *int64) (*cairn.Alias, error) {
	var from int64
	cur, err := m.tx.GetAlias(ctx, model, alias)
	switch {
	case err == nil:
		from = cur.Version
	case !cairn.IsCode(err, cairn.ENOTFOUND):
		return nil, err
	}
	if ifCurrent != nil && *ifCurrent != from {
		if from == 0 {
			return nil, cairn.Errorf(cairn.ECONFLICT, "alias %s@%s does not exist, expected it at version %d", model, alias, *ifCurrent)
		}
		return nil, cairn.Errorf(cairn.ECONFLICT, "alias %s@%s points at version %d, not %d", model, alias, from, *ifCurrent)
	}
	if to != 0 {
		v, err := getVersion(ctx, m.tx, model, to)
		if err != nil {
			return nil, err
		}
		if v.Status != cairn.StatusReady {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot point %s@%s at %s: it is %s, not ready", model, alias, v.Ref(), v.Status)
		}
		if v.Archived {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot point %s@%s at %s: it is archived", model, alias, v.Ref())
		}
		if from == to {
			return cur, nil
		}
	}
	move := &cairn.AliasMove{Model: model, Alias: alias, From: from, To: to, Actor: m.actor.Name, At: m.now, RequestID: m.reqID, Origin: m.origin}
	if err := m.tx.MoveAlias(ctx, move); err != nil {
		return nil, err
	}
	target := model + "@" + alias
	if to == 0 {
		m.record(cairn.EventAliasDeleted, target, model, alias, cur, nil)
		return nil, nil
	}
	a := &cairn.Alias{Model: model, Name: alias, Version: to, UpdatedBy: m.actor.Name, UpdatedAt: m.now}
	var before any
	if cur != nil {
		before = cur
	}
	m.record(cairn.EventAliasSet, target, model, alias, before, a)
	return a, nil
}

// GetAlias returns an alias.
func (s *Service) GetAlias(ctx context.Context, model, alias string) (*cairn.Alias, error) {
	if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
		return nil, err
	}
	if err := cairn.ValidateAliasName(alias); err != nil {
		return nil, err
	}
	if _, err := getModel(ctx, s.store, model); err != nil {
		return nil, err
	}
	a, err := s.store.GetAlias(ctx, model, alias)
	if err != nil {
		return nil, notFound(err, "alias %q of model %q not found", alias, model)
	}
	return a, nil
}

// AliasHistory lists every move of an alias, newest first: from, to, who,
// when. alias "" lists the moves of all the model's aliases.
func (s *Service) AliasHistory(ctx context.Context, model, alias string, pageSize int, pageToken string) (*cairn.AliasMovePage, error) {
	if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
		return nil, err
	}
	if alias != "" {
		if err := cairn.ValidateAliasName(alias); err != nil {
			return nil, err
		}
	}
	if _, err := getModel(ctx, s.store, model); err != nil {
		return nil, err
	}
	page, err := checkPage(pageSize, pageToken)
	if err != nil {
		return nil, err
	}
	return s.store.AliasHistory(ctx, model, alias, page)
}
