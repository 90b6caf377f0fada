package migrate

import (
	"context"
	"fmt"
	"reflect"

	"github.com/cairn-registry/cairn"
)

// The import side of a copy: each method writes one batch to the target in
// one transaction. A record the target has already (ECONFLICT) is compared
// with the one given and counted as skipped if they agree.

func (c *copier) importAudit(ctx context.Context, es []*cairn.AuditEntry) error {
	return c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, e := range es {
			if err := c.count(KindAudit, imp.ImportAudit(ctx, e)); err != nil {
				return err
			}
		}
		return nil
	})
}

// importCheckpoints stores checkpoints as they are; one the target has is
// skipped if it is the same.
func (c *copier) importCheckpoints(ctx context.Context, cs []*cairn.AuditCheckpoint) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		for _, cp := range cs {
			err := tx.PutAuditCheckpoint(ctx, cp)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				got, gerr := tx.ListAuditCheckpoints(ctx, cp.Seq-1, 1)
				if gerr != nil {
					return gerr
				}
				if len(got) == 0 || !reflect.DeepEqual(got[0], cp) {
					return differs(fmt.Sprintf("audit checkpoint %d", cp.Seq))
				}
			}
			if err := c.count(KindCheckpoints, err); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *copier) importEvents(ctx context.Context, evs []*cairn.Event) error {
	return c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, ev := range evs {
			if err := c.count(KindEvents, imp.ImportEvent(ctx, ev)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *copier) importModels(ctx context.Context, ms []*cairn.Model) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, m := range ms {
			err := imp.ImportModel(ctx, m)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameModel(ctx, tx, m)
			}
			if err := c.count(KindModels, err); err != nil {
				return err
			}
		}
		return nil
	})
}

// importVersions writes versions whose blobs the target has already.
func (c *copier) importVersions(ctx context.Context, vs []*cairn.Version) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		for _, v := range vs {
			err := tx.CreateVersion(ctx, v)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameVersion(ctx, tx, v)
			}
			if err := c.count(KindVersions, err); err != nil {
				return fmt.Errorf("%s: %w", v.Ref(), err)
			}
		}
		return nil
	})
}

func (c *copier) importAliases(ctx context.Context, as []*cairn.Alias) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, a := range as {
			err := imp.ImportAlias(ctx, a)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameAlias(ctx, tx, a)
			}
			if err := c.count(KindAliases, err); err != nil {
				return fmt.Errorf("%s@%s: %w", a.Model, a.Name, err)
			}
		}
		return nil
	})
}

func (c *copier) importAliasMoves(ctx context.Context, ms []*cairn.AliasMove) error {
	return c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, m := range ms {
			if err := c.count(KindAliasMoves, imp.ImportAliasMove(ctx, m)); err != nil {
				return fmt.Errorf("move %d of %s@%s: %w", m.Seq, m.Model, m.Alias, err)
			}
		}
		return nil
	})
}

func (c *copier) importExperiments(ctx context.Context, es []*cairn.Experiment) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, e := range es {
			err := imp.ImportExperiment(ctx, e)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameExperiment(ctx, tx, e)
			}
			if err := c.count(KindExperiments, err); err != nil {
				return fmt.Errorf("experiment %q: %w", e.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) importLoggedModels(ctx context.Context, ms []*cairn.LoggedModel) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, m := range ms {
			err := imp.ImportLoggedModel(ctx, m)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameLoggedModel(ctx, tx, m)
			}
			if err := c.count(KindLoggedModels, err); err != nil {
				return fmt.Errorf("logged model %q: %w", m.ID, err)
			}
		}
		return nil
	})
}

func (c *copier) importRuns(ctx context.Context, rs []runRecord) error {
	return c.importBatch(ctx, func(tx cairn.Tx, imp cairn.Importer) error {
		for _, r := range rs {
			err := imp.ImportRun(ctx, r.Run, r.History)
			if cairn.IsCode(err, cairn.ECONFLICT) {
				err = c.sameRun(ctx, tx, r.Run)
			}
			if err := c.count(KindRuns, err); err != nil {
				return fmt.Errorf("run %q: %w", r.Run.ID, err)
			}
		}
		return nil
	})
}

// importEdges adds lineage edges in the order given. AddEdges keeps an
// edge that exists, so a resumed copy adds only the missing ones; the
// report counts every edge passed to it as copied.
func (c *copier) importEdges(ctx context.Context, es []cairn.Edge) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		if err := tx.AddEdges(ctx, es); err != nil {
			return err
		}
		c.batch.Copied[KindEdges] += int64(len(es))
		return nil
	})
}

// importSignals imports monitoring signals keeping their ids; one already
// there (a resumed copy) is skipped.
func (c *copier) importSignals(ctx context.Context, ss []*cairn.Signal) error {
	return c.importBatch(ctx, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, s := range ss {
			if err := c.count(KindSignals, imp.ImportSignal(ctx, s)); err != nil {
				return fmt.Errorf("signal %d of %s: %w", s.ID, s.Ref(), err)
			}
		}
		return nil
	})
}
