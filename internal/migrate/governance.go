package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/cairn-registry/cairn"
)

// Governance state travels whole: every policy with every version ever
// written of it (deleted policies too, whose versions stay readable), and
// every approval request in whatever state it is — pending ones with the
// approvals they have so far and their expiry, decided ones with their
// decisions — under their ids. The audit entries and events that name a
// policy version (NAME@vN) or a request id therefore name the same thing
// on the copy, a pending request applies itself there once approved, and
// each version's derived approval status (a column of the version, copied
// with it) agrees with its requests.
//
// Policies come after the records they do not depend on and before the
// requests, which need their models; both before users and webhooks.

// Kinds of governance records a Report counts: policies (each with all its
// versions) and policy versions, and approval requests.
const (
	KindPolicies       = "policies"
	KindPolicyVersions = "policy_versions"
	KindApprovals      = "approval_requests"
)

// policyRecord is one policy with every version of it, newest first.
type policyRecord struct {
	Versions []*cairn.Policy `json:"versions"`
}

// walkPolicies reads every policy, deleted ones too, by name, with all its
// versions.
func (w *walker) walkPolicies(ctx context.Context, fn func(context.Context, []policyRecord) error) error {
	ps, err := w.src.Meta.ListPolicies(ctx, true)
	if err != nil {
		return err
	}
	for batch := range slices.Chunk(ps, max(w.batch, 1)) {
		rs := make([]policyRecord, 0, len(batch))
		for _, p := range batch {
			vs, err := w.src.Meta.ListPolicyVersions(ctx, p.Name)
			if err != nil {
				return err
			}
			rs = append(rs, policyRecord{Versions: vs})
		}
		if err := fn(ctx, rs); err != nil {
			return err
		}
	}
	return nil
}

// walkApprovals reads every approval request, newest first.
func (w *walker) walkApprovals(ctx context.Context, fn func(context.Context, []*cairn.ApprovalRequest) error) error {
	page := cairn.Page{Size: w.batch}
	for {
		p, err := w.src.Meta.ListApprovals(ctx, cairn.ApprovalQuery{Page: page})
		if err != nil {
			return err
		}
		if len(p.Items) > 0 {
			if err := fn(ctx, p.Items); err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

// importPolicies writes policies with their versions. A policy the target
// has already is skipped if all its versions are the same.
func (c *copier) importPolicies(ctx context.Context, rs []policyRecord) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, r := range rs {
			head, err := cairn.ImportedPolicyHead(r.Versions)
			if err != nil {
				return err
			}
			err = imp.ImportPolicy(ctx, r.Versions)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = samePolicy(ctx, tx, r.Versions)
			}
			if err := c.count(KindPolicies, err); err != nil {
				return fmt.Errorf("policy %q: %w", head.Name, err)
			}
			if cairn.IsCode(err, cairn.ECONFLICT) {
				c.batch.Skipped[KindPolicyVersions] += int64(len(r.Versions))
			} else {
				c.batch.Copied[KindPolicyVersions] += int64(len(r.Versions))
			}
		}
		return nil
	})
}

// importApprovals writes approval requests. One the target has already is
// skipped if it is the same.
func (c *copier) importApprovals(ctx context.Context, as []*cairn.ApprovalRequest) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, a := range as {
			if a == nil {
				return cairn.Errorf(cairn.EINVALID, "an approval request record that is null")
			}
			err := imp.ImportApproval(ctx, a)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = sameApproval(ctx, tx, a)
			}
			if err := c.count(KindApprovals, err); err != nil {
				return fmt.Errorf("approval request %s: %w", a.ID, err)
			}
		}
		return nil
	})
}

func samePolicy(ctx context.Context, tx cairn.Tx, versions []*cairn.Policy) error {
	name := versions[0].Name
	got, err := tx.ListPolicyVersions(ctx, name)
	if err != nil {
		return err
	}
	want := slices.Clone(versions)
	slices.SortFunc(want, func(a, b *cairn.Policy) int { return int(b.Version - a.Version) })
	if !reflect.DeepEqual(normalizePolicies(want), normalizePolicies(got)) {
		return differs("policy " + name)
	}
	return cairn.Errorf(cairn.ECONFLICT, "policy %q exists", name)
}

// normalizePolicies returns the policies as JSON-shaped values, so that a
// policy read back from a store and one decoded from an archive compare
// by content (a JSON Schema's bytes, empty and absent lists).
func normalizePolicies(ps []*cairn.Policy) []map[string]any {
	out := make([]map[string]any, len(ps))
	for i, p := range ps {
		out[i] = map[string]any{}
		if err := jsonRoundTrip(p, &out[i]); err != nil {
			out[i] = map[string]any{"unencodable": err.Error()}
		}
	}
	return out
}

func sameApproval(ctx context.Context, tx cairn.Tx, a *cairn.ApprovalRequest) error {
	got, err := tx.GetApproval(ctx, a.ID)
	if err != nil {
		return err
	}
	var want, have map[string]any
	if err := jsonRoundTrip(a, &want); err != nil {
		return err
	}
	if err := jsonRoundTrip(got, &have); err != nil {
		return err
	}
	if !reflect.DeepEqual(want, have) {
		return differs("approval request " + a.ID)
	}
	return cairn.Errorf(cairn.ECONFLICT, "approval request %s exists", a.ID)
}

// jsonRoundTrip decodes the JSON of v into out.
func jsonRoundTrip(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "encode %T", v)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "decode %T", v)
	}
	return nil
}
