package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
)

const policyColumns = `p.name, p.version, p.deleted_at, v.document, v.created_by, v.created_at`

func scanPolicy(s scanner) (*cairn.Policy, error) {
	var (
		p       cairn.Policy
		deleted sql.NullInt64
		doc     string
		created int64
	)
	if err := s.Scan(&p.Name, &p.Version, &deleted, &doc, &p.CreatedBy, &created); err != nil {
		return nil, err
	}
	if err := decodeJSON("document", doc, &p.PolicySpec); err != nil {
		return nil, err
	}
	p.DeletedAt, p.CreatedAt = fromNullMicros(deleted), fromMicros(created)
	return &p, nil
}

// GetPolicy returns a policy at its current version; ENOTFOUND.
func (db *DB) GetPolicy(ctx context.Context, name string) (*cairn.Policy, error) {
	return view(ctx, db, func(t *tx) (*cairn.Policy, error) { return t.GetPolicy(ctx, name) })
}

func (t *tx) GetPolicy(ctx context.Context, name string) (*cairn.Policy, error) {
	p, err := scanPolicy(t.queryRow(ctx, `SELECT `+policyColumns+`
		FROM policies p JOIN policy_versions v ON v.name = p.name AND v.version = p.version
		WHERE p.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %q not found", name)
	}
	return p, translate(err, "get policy %q", name)
}

// GetPolicyVersion returns one version of a policy; ENOTFOUND.
func (db *DB) GetPolicyVersion(ctx context.Context, name string, version int64) (*cairn.Policy, error) {
	return view(ctx, db, func(t *tx) (*cairn.Policy, error) { return t.GetPolicyVersion(ctx, name, version) })
}

func (t *tx) GetPolicyVersion(ctx context.Context, name string, version int64) (*cairn.Policy, error) {
	p, err := scanPolicy(t.queryRow(ctx, `SELECT p.name, v.version, p.deleted_at, v.document, v.created_by, v.created_at
		FROM policies p JOIN policy_versions v ON v.name = p.name
		WHERE p.name = ? AND v.version = ?`, name, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %s version %d not found", name, version)
	}
	return p, translate(err, "get policy %q version %d", name, version)
}

// ListPolicies returns the policies at their current versions, by name.
func (db *DB) ListPolicies(ctx context.Context, includeDeleted bool) ([]*cairn.Policy, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Policy, error) { return t.ListPolicies(ctx, includeDeleted) })
}

func (t *tx) ListPolicies(ctx context.Context, includeDeleted bool) ([]*cairn.Policy, error) {
	q := `SELECT ` + policyColumns + ` FROM policies p JOIN policy_versions v ON v.name = p.name AND v.version = p.version`
	if !includeDeleted {
		q += ` WHERE p.deleted_at IS NULL`
	}
	return t.queryPolicies(ctx, "list policies", q+` ORDER BY p.name`)
}

// ListPolicyVersions returns every version of a policy, newest first.
func (db *DB) ListPolicyVersions(ctx context.Context, name string) ([]*cairn.Policy, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Policy, error) { return t.ListPolicyVersions(ctx, name) })
}

func (t *tx) ListPolicyVersions(ctx context.Context, name string) ([]*cairn.Policy, error) {
	ps, err := t.queryPolicies(ctx, "list policy versions", `SELECT p.name, v.version, p.deleted_at, v.document, v.created_by, v.created_at
		FROM policies p JOIN policy_versions v ON v.name = p.name
		WHERE p.name = ? ORDER BY v.version DESC`, name)
	if err == nil && len(ps) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %q not found", name)
	}
	return ps, err
}

func (t *tx) queryPolicies(ctx context.Context, what, q string, args ...any) ([]*cairn.Policy, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	out := []*cairn.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, translate(err, "%s", what)
		}
		out = append(out, p)
	}
	return out, translate(rows.Err(), "%s", what)
}

// PutPolicy writes a new version of a policy and makes it current.
func (t *tx) PutPolicy(ctx context.Context, p *cairn.Policy) error {
	doc, err := encodeJSON(p.PolicySpec)
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO policies (name, version, deleted_at) VALUES (?, ?, NULL)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version, deleted_at = NULL`, p.Name, p.Version); err != nil {
		return translate(err, "put policy %q", p.Name)
	}
	_, err = t.exec(ctx, `INSERT INTO policy_versions (name, version, scope, document, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, p.Name, p.Version, p.Scope, doc, p.CreatedBy, micros(p.CreatedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "policy %s version %d exists already", p.Name, p.Version)
	}
	return translate(err, "put policy %q", p.Name)
}

// DeletePolicy marks a live policy deleted; ENOTFOUND.
func (t *tx) DeletePolicy(ctx context.Context, name string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE policies SET deleted_at = ? WHERE name = ? AND deleted_at IS NULL`, micros(at), name)
	if err != nil {
		return translate(err, "delete policy %q", name)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "policy %q not found", name)
	}
	return nil
}

// ImportPolicy inserts a policy with all its versions, the highest being
// current. ECONFLICT if the name is taken.
func (t *tx) ImportPolicy(ctx context.Context, versions []*cairn.Policy) error {
	head, err := cairn.ImportedPolicyHead(versions)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO policies (name, version, deleted_at) VALUES (?, ?, ?)`,
		head.Name, head.Version, nullMicros(head.DeletedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "policy %q already exists", head.Name)
	}
	if err != nil {
		return translate(err, "import policy %q", head.Name)
	}
	for _, p := range versions {
		doc, err := encodeJSON(p.PolicySpec)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO policy_versions (name, version, scope, document, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, p.Name, p.Version, p.Scope, doc, p.CreatedBy, micros(p.CreatedAt)); err != nil {
			return translate(err, "import policy %s version %d", p.Name, p.Version)
		}
	}
	return nil
}
