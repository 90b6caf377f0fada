package migrate

import (
	"context"
	"fmt"
	"sort"

	"github.com/cairn-registry/cairn"
)

// runRecord is a run with the history of each of its metrics.
type runRecord struct {
	Run     *cairn.Run          `json:"run"`
	History []cairn.MetricPoint `json:"history"`
}

// visitor receives a registry's records in copy order, a batch at a time:
// Copy imports them into the target, Export writes them to an archive.
type visitor struct {
	phase       func(name string)
	audit       func(context.Context, []*cairn.AuditEntry) error
	checkpoints func(context.Context, []*cairn.AuditCheckpoint) error
	events      func(context.Context, []*cairn.Event) error
	models      func(context.Context, []*cairn.Model) error
	versions    func(context.Context, []*cairn.Version) error
	aliases     func(context.Context, []*cairn.Alias) error
	aliasMoves  func(context.Context, []*cairn.AliasMove) error
	runs        func(context.Context, []runRecord) error
	artifacts   func(context.Context, []*cairn.Artifact) error
	edges       func(context.Context, []cairn.Edge) error
	signals     func(context.Context, []*cairn.Signal) error
	policies    func(context.Context, []policyRecord) error
	approvals   func(context.Context, []*cairn.ApprovalRequest) error
	users       func(context.Context, []identityRecord) error
	webhooks    func(context.Context, []webhookRecord) error
	experiments func(context.Context, []*cairn.Experiment) error
	// loggedModels receives MLflow 3's logged models (their files are
	// artifacts, copied with the artifact store).
	loggedModels func(context.Context, []*cairn.LoggedModel) error
}

// walker reads a registry in copy order: the audit log first (on a resumed
// copy, the target's log being a prefix of the source's is what proves the
// target is a partial copy of this source and nothing else), then events,
// models, versions (which need their models), the artifact store's files,
// aliases and their history (which need versions), runs, lineage (which
// needs versions and runs), monitoring signals (which need versions),
// policies with all their versions, approval requests (which need models),
// the users with their role bindings and tokens, and last the webhook
// subscriptions with their cursors and dead letters.
type walker struct {
	src   Stores
	exp   cairn.Exporter
	batch int
}

// walk reads the audit entries after auditAfter, the events after
// eventsAfter and every other record, and hands them to v.
func (w *walker) walk(ctx context.Context, auditAfter, eventsAfter int64, v visitor) error {
	for _, p := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{KindAudit, func(ctx context.Context) error { return w.walkAudit(ctx, auditAfter, v.audit) }},
		{KindCheckpoints, func(ctx context.Context) error { return w.walkCheckpoints(ctx, v.checkpoints) }},
		{KindEvents, func(ctx context.Context) error { return w.walkEvents(ctx, eventsAfter, v.events) }},
		{KindModels, func(ctx context.Context) error { return w.eachModelPage(ctx, v.models) }},
		{KindVersions, func(ctx context.Context) error { return w.walkVersions(ctx, v.versions) }},
		{KindArtifacts, func(ctx context.Context) error { return w.walkArtifacts(ctx, v.artifacts) }},
		{KindAliases, func(ctx context.Context) error { return w.walkAliases(ctx, v.aliases, v.aliasMoves) }},
		{KindExperiments, func(ctx context.Context) error { return w.walkExperiments(ctx, v.experiments) }},
		{KindRuns, func(ctx context.Context) error { return w.walkRuns(ctx, v.runs) }},
		{KindLoggedModels, func(ctx context.Context) error { return w.walkLoggedModels(ctx, v.loggedModels) }},
		{KindEdges, func(ctx context.Context) error { return w.walkEdges(ctx, v.edges) }},
		{KindSignals, func(ctx context.Context) error { return w.walkSignals(ctx, v.signals) }},
		{KindPolicies, func(ctx context.Context) error { return w.walkPolicies(ctx, v.policies) }},
		{KindApprovals, func(ctx context.Context) error { return w.walkApprovals(ctx, v.approvals) }},
		{KindUsers, func(ctx context.Context) error { return w.walkUsers(ctx, v.users) }},
		{KindWebhooks, func(ctx context.Context) error { return w.walkWebhooks(ctx, v.webhooks) }},
	} {
		v.phase(p.name)
		if err := p.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

func (w *walker) walkAudit(ctx context.Context, after int64, fn func(context.Context, []*cairn.AuditEntry) error) error {
	for {
		es, err := w.src.Meta.ListAudit(ctx, cairn.AuditQuery{AfterSeq: after, Limit: w.batch})
		if err != nil || len(es) == 0 {
			return err
		}
		if err := fn(ctx, es); err != nil {
			return err
		}
		after = es[len(es)-1].Seq
	}
}

// walkCheckpoints reads every audit checkpoint; a resumed copy reads them
// all again and skips those the target has (there are few: one per
// thousand entries or so).
func (w *walker) walkCheckpoints(ctx context.Context, fn func(context.Context, []*cairn.AuditCheckpoint) error) error {
	var after int64
	for {
		cs, err := w.src.Meta.ListAuditCheckpoints(ctx, after, w.batch)
		if err != nil || len(cs) == 0 {
			return err
		}
		if err := fn(ctx, cs); err != nil {
			return err
		}
		after = cs[len(cs)-1].Seq
	}
}

func (w *walker) walkEvents(ctx context.Context, after int64, fn func(context.Context, []*cairn.Event) error) error {
	for {
		evs, err := w.src.Meta.ListEvents(ctx, after, w.batch)
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := fn(ctx, evs); err != nil {
			return err
		}
		after = evs[len(evs)-1].Seq
	}
}

// eachModelPage calls fn with every page of the source's models, deleted
// ones included, by name.
func (w *walker) eachModelPage(ctx context.Context, fn func(context.Context, []*cairn.Model) error) error {
	return eachPage(ctx, w.batch, fn, func(ctx context.Context, page cairn.Page) ([]*cairn.Model, string, error) {
		p, err := w.src.Meta.ListModels(ctx, cairn.ModelQuery{IncludeDeleted: true, Page: page})
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextToken, nil
	})
}

// walkVersions reads every version, deleted ones included, model by model
// (so that each page is found by the model's index whatever the
// registry's size), in batches that may span models.
func (w *walker) walkVersions(ctx context.Context, fn func(context.Context, []*cairn.Version) error) error {
	var batch []*cairn.Version
	err := w.eachModelPage(ctx, func(ctx context.Context, ms []*cairn.Model) error {
		for _, m := range ms {
			page := cairn.Page{Size: w.batch}
			for {
				p, err := w.src.Meta.ListVersions(ctx, cairn.VersionQuery{Model: m.Name, IncludeDeleted: true, Page: page})
				if err != nil {
					return err
				}
				batch = append(batch, p.Items...)
				if len(batch) >= w.batch {
					if err := fn(ctx, batch); err != nil {
						return err
					}
					batch = nil
				}
				if p.NextToken == "" {
					break
				}
				page.Token = p.NextToken
			}
		}
		return nil
	})
	if err != nil || len(batch) == 0 {
		return err
	}
	return fn(ctx, batch)
}

// walkAliases reads, page of models by page of models, their current
// aliases and then the whole alias history of each.
func (w *walker) walkAliases(ctx context.Context, aliases func(context.Context, []*cairn.Alias) error,
	moves func(context.Context, []*cairn.AliasMove) error) error {
	return w.eachModelPage(ctx, func(ctx context.Context, ms []*cairn.Model) error {
		var as []*cairn.Alias
		for _, m := range ms {
			names := make([]string, 0, len(m.Aliases))
			for n := range m.Aliases {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				a, err := w.src.Meta.GetAlias(ctx, m.Name, n)
				if err != nil {
					return err
				}
				as = append(as, a)
			}
		}
		if len(as) > 0 {
			if err := aliases(ctx, as); err != nil {
				return err
			}
		}
		for _, m := range ms {
			page := cairn.Page{Size: w.batch}
			for {
				p, err := w.src.Meta.AliasHistory(ctx, m.Name, "", page)
				if err != nil {
					return err
				}
				if len(p.Items) > 0 {
					if err := moves(ctx, p.Items); err != nil {
						return err
					}
				}
				if p.NextToken == "" {
					break
				}
				page.Token = p.NextToken
			}
		}
		return nil
	})
}

// walkExperiments reads every experiment, deleted ones included.
func (w *walker) walkExperiments(ctx context.Context, fn func(context.Context, []*cairn.Experiment) error) error {
	return eachPage(ctx, w.batch, fn, func(ctx context.Context, page cairn.Page) ([]*cairn.Experiment, string, error) {
		p, err := w.exp.ExportExperiments(ctx, page)
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextToken, nil
	})
}

// walkLoggedModels reads every logged model, deleted ones included.
func (w *walker) walkLoggedModels(ctx context.Context, fn func(context.Context, []*cairn.LoggedModel) error) error {
	return eachPage(ctx, w.batch, fn, func(ctx context.Context, page cairn.Page) ([]*cairn.LoggedModel, string, error) {
		p, err := w.exp.ExportLoggedModels(ctx, page)
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextToken, nil
	})
}

// walkRuns reads every run, deleted ones included, with the history of
// each of its metrics.
func (w *walker) walkRuns(ctx context.Context, fn func(context.Context, []runRecord) error) error {
	page := cairn.Page{Size: w.batch}
	for {
		p, err := w.exp.ExportRuns(ctx, page)
		if err != nil {
			return err
		}
		rs := make([]runRecord, len(p.Items))
		for i, r := range p.Items {
			rs[i].Run = r
			keys := make([]string, 0, len(r.Metrics))
			for k := range r.Metrics {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				h, err := w.src.Meta.MetricHistory(ctx, r.ID, k)
				if err != nil {
					return err
				}
				rs[i].History = append(rs[i].History, h...)
			}
		}
		if len(rs) > 0 {
			if err := fn(ctx, rs); err != nil {
				return err
			}
		}
		if p.NextToken == "" {
			return nil
		}
		page.Token = p.NextToken
	}
}

// walkEdges reads every lineage edge in the order the source added them,
// which is the order Lineage lists edges at the same depth in.
func (w *walker) walkEdges(ctx context.Context, fn func(context.Context, []cairn.Edge) error) error {
	return eachPage(ctx, w.batch, fn, func(ctx context.Context, page cairn.Page) ([]cairn.Edge, string, error) {
		p, err := w.exp.ExportEdges(ctx, page)
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextToken, nil
	})
}

// walkSignals reads every monitoring signal, newest first (ImportSignal
// keeps ids, so the order of import does not matter).
func (w *walker) walkSignals(ctx context.Context, fn func(context.Context, []*cairn.Signal) error) error {
	return eachPage(ctx, w.batch, fn, func(ctx context.Context, page cairn.Page) ([]*cairn.Signal, string, error) {
		p, err := w.src.Meta.ListSignals(ctx, cairn.SignalQuery{Page: page})
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextToken, nil
	})
}

// eachPage calls fn with every non-empty page that next returns, starting
// with a first page of size items and following the page tokens to the end.
func eachPage[T any](ctx context.Context, size int, fn func(context.Context, []T) error,
	next func(context.Context, cairn.Page) ([]T, string, error)) error {
	page := cairn.Page{Size: size}
	for {
		items, token, err := next(ctx, page)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := fn(ctx, items); err != nil {
				return err
			}
		}
		if token == "" {
			return nil
		}
		page.Token = token
	}
}
