package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/jackc/pgx/v5"
)

const policyColumns = `p.name, v.version, p.deleted_at, v.document, v.created_by, v.created_at`

func scanPolicy(row pgx.Row) (*cairn.Policy, error) {
	var (
		p       cairn.Policy
		deleted *int64
		doc     string
		created int64
	)
	if err := row.Scan(&p.Name, &p.Version, &deleted, &doc, &p.CreatedBy, &created); err != nil {
		return nil, err
	}
	if err := decodeJSON("document", []byte(doc), &p.PolicySpec); err != nil {
		return nil, err
	}
	p.DeletedAt, p.CreatedAt = fromNullMicros(deleted), fromMicros(created)
	return &p, nil
}

// GetPolicy returns a policy at its current version; ENOTFOUND.
func (r reader) GetPolicy(ctx context.Context, name string) (*cairn.Policy, error) {
	p, err := scanPolicy(r.q.QueryRow(ctx, `SELECT `+policyColumns+`
		FROM policies p JOIN policy_versions v ON v.name = p.name AND v.version = p.version
		WHERE p.name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %q not found", name)
	}
	if err != nil {
		return nil, translate(err, "get policy %q", name)
	}
	return p, nil
}

// GetPolicyVersion returns one version of a policy; ENOTFOUND.
func (r reader) GetPolicyVersion(ctx context.Context, name string, version int64) (*cairn.Policy, error) {
	p, err := scanPolicy(r.q.QueryRow(ctx, `SELECT `+policyColumns+`
		FROM policies p JOIN policy_versions v ON v.name = p.name
		WHERE p.name = $1 AND v.version = $2`, name, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %s version %d not found", name, version)
	}
	if err != nil {
		return nil, translate(err, "get policy %q version %d", name, version)
	}
	return p, nil
}

// ListPolicies returns the policies at their current versions, by name.
func (r reader) ListPolicies(ctx context.Context, includeDeleted bool) ([]*cairn.Policy, error) {
	q := `SELECT ` + policyColumns + ` FROM policies p JOIN policy_versions v ON v.name = p.name AND v.version = p.version`
	if !includeDeleted {
		q += ` WHERE p.deleted_at IS NULL`
	}
	return r.queryPolicies(ctx, "list policies", q+` ORDER BY p.name`)
}

// ListPolicyVersions returns every version of a policy, newest first.
func (r reader) ListPolicyVersions(ctx context.Context, name string) ([]*cairn.Policy, error) {
	ps, err := r.queryPolicies(ctx, "list policy versions", `SELECT `+policyColumns+`
		FROM policies p JOIN policy_versions v ON v.name = p.name
		WHERE p.name = $1 ORDER BY v.version DESC`, name)
	if err == nil && len(ps) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "policy %q not found", name)
	}
	return ps, err
}

func (r reader) queryPolicies(ctx context.Context, what, q string, args ...any) ([]*cairn.Policy, error) {
	rows, err := r.q.Query(ctx, q, args...)
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
	doc, err := encodeJSON("document", p.PolicySpec)
	if err != nil {
		return err
	}
	if _, err := t.q.Exec(ctx, `INSERT INTO policies (name, version, deleted_at) VALUES ($1, $2, NULL)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version, deleted_at = NULL`, p.Name, p.Version); err != nil {
		return translate(err, "put policy %q", p.Name)
	}
	_, err = t.q.Exec(ctx, `INSERT INTO policy_versions (name, version, scope, document, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, p.Name, p.Version, p.Scope, doc, p.CreatedBy, micros(p.CreatedAt))
	return translate(err, "put policy %s version %d", p.Name, p.Version)
}

// DeletePolicy marks a live policy deleted; ENOTFOUND.
func (t *tx) DeletePolicy(ctx context.Context, name string, at time.Time) error {
	tag, err := t.q.Exec(ctx, `UPDATE policies SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL`, micros(at), name)
	return webhookAffected(tag, err, "policy %q not found", name)
}

// ImportPolicy inserts a policy with all its versions, the highest being
// current. ECONFLICT if the name is taken.
func (t *tx) ImportPolicy(ctx context.Context, versions []*cairn.Policy) error {
	head, err := cairn.ImportedPolicyHead(versions)
	if err != nil {
		return err
	}
	var name string
	err = t.q.QueryRow(ctx, `INSERT INTO policies (name, version, deleted_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING
		RETURNING name`, head.Name, head.Version, nullMicros(head.DeletedAt)).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "policy %q already exists", head.Name)
	}
	if err != nil {
		return translate(err, "import policy %q", head.Name)
	}
	for _, p := range versions {
		doc, err := encodeJSON("document", p.PolicySpec)
		if err != nil {
			return err
		}
		if _, err := t.q.Exec(ctx, `INSERT INTO policy_versions (name, version, scope, document, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, p.Name, p.Version, p.Scope, doc, p.CreatedBy, micros(p.CreatedAt)); err != nil {
			return translate(err, "import policy %s version %d", p.Name, p.Version)
		}
	}
	return nil
}
