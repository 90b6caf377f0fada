package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// SeedOptions shape a bulk seed.
type SeedOptions struct {
	// Models is how many models the versions are spread over (default
	// 1000). Models that exist already get more versions.
	Models int
	// Versions is how many versions to add in total, spread evenly: model
	// i gets Versions/Models, the first Versions%Models one more.
	Versions int64
	// Prefix starts every model name (default "bench-"): bench-00000, …
	Prefix string
	// Batch is how many versions share one transaction (default 2000).
	Batch int
	// Actor is who the audit trail says seeded (default "cairn-bench").
	Actor string
	// RandSeed makes the metrics and tags repeatable (default 1).
	RandSeed uint64
	// ViaService makes every version through registry.Service's
	// CreateVersion and FinalizeVersion instead of the faster direct path;
	// see Seed.
	ViaService bool
	// Progress, if set, is called after every committed transaction.
	Progress func(done int64, elapsed time.Duration)
}

// SeedResult reports a seed.
type SeedResult struct {
	Models   int           `json:"models"`
	Versions int64         `json:"versions"`
	Aliases  int64         `json:"alias_moves"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	PerSec   float64       `json:"versions_per_s"`
}

// The seeded versions' teams and frameworks, drawn uniformly: a quarter of
// the versions are team fraud, and auc is uniform in [0.4, 1), so
// SearchFilter matches about a fifth of them (1/4 × 5/6).
var seedTeams = []string{"fraud", "risk", "growth", "search"}

var seedFrameworks = []string{"sklearn", "pytorch", "xgboost", "onnx"}

// SearchFilter is the search scenario's filter; it matches about 20 % of
// seeded versions.
const SearchFilter = "metrics.auc > 0.5 AND tags.team = 'fraud'"

// TagFilter is the filter of the search-tag and mlflow-versions scenarios,
// which both APIs take (MLflow's version search has no metrics); it
// matches about a quarter of seeded versions.
const TagFilter = "tags.team = 'fraud'"

// Aliases the seeder sets on every model: champion on the version 90 % of
// the way through the model's history, staging on its newest.
const (
	SeedAliasChampion = "champion"
	SeedAliasStaging  = "staging"
)

// seedBlobs is how many distinct small files the seeded versions share:
// identical bytes are stored once, so a million versions cost 64 blobs.
const seedBlobs = 64

// Seed fills a registry with versions, fast, in transactions of Batch
// versions each instead of two per version, and without HTTP. Models and
// aliases are always made by registry.Service itself (CreateVersion creates
// a model on first use; SetAlias moves champion and staging at the end),
// running on a view of the batch's open transaction (see joinedStore).
//
// Versions are made in one of two ways:
//
//   - ViaService: by registry.Service.CreateVersion and FinalizeVersion,
//     exactly as a push through the API: the service's validation, dedupe
//     check, blob check and records. On SQLite about 250 versions/s on an
//     idle two-core machine: the service reads each version back several
//     times, about 30 statements a version, and the SQLite store prepares
//     every statement anew.
//   - otherwise (the default): written in bulk, writing what the
//     service's create and finalize would write: the spec is validated as
//     the service validates it, a model's run of versions in the batch
//     gets its numbers from one AllocateVersions under LockModel, the
//     version rows are inserted already ready with their fixed fields
//     encoded, and the same two audit entries and events a version are
//     appended (version.created with the pending state as "after",
//     version.ready with pending → ready), chained and numbered in memory,
//     through the store's bulkTx methods: multi-row INSERTs on SQLite,
//     COPY on PostgreSQL. Held versions are written before the service
//     writes anything else, so the audit trail has the service path's
//     order. On SQLite the store's BulkMode (bulkStore) is on for the
//     seed. What it skips are the service's reads: the
//     checksum-versioning lookup (every seeded version has distinct
//     metrics, so none would match) and the per-version blob stat (the
//     blobs are put once, first). TestSeedMatchesService holds the two
//     paths to the same result. A store without bulkTx gets the same
//     records one statement at a time (createReady).
//
// Each version has one small file (one of 64 shared blobs, put into blobs
// first), metrics auc, accuracy and loss, params, a framework, a code
// version and tags team and env. On an error the current batch rolls back
// and earlier batches stay.
func Seed(ctx context.Context, store cairn.Store, blobs cairn.BlobStore, opts SeedOptions) (res *SeedResult, err error) {
	if opts.Models <= 0 {
		opts.Models = 1000
	}
	if opts.Versions < 0 {
		return nil, fmt.Errorf("bench: seed: negative version count %d", opts.Versions)
	}
	if opts.Prefix == "" {
		opts.Prefix = "bench-"
	}
	if opts.Batch <= 0 {
		opts.Batch = 2000
	}
	if opts.Actor == "" {
		opts.Actor = "cairn-bench"
	}
	if opts.RandSeed == 0 {
		opts.RandSeed = 1
	}
	actor := cairn.Actor{Name: opts.Actor}
	ctx = cairn.NewContextWithActor(ctx, actor)
	start := time.Now()

	files, err := putSeedBlobs(ctx, blobs)
	if err != nil {
		return nil, err
	}
	if b, ok := store.(bulkStore); ok && !opts.ViaService {
		restore, err := b.BulkMode(ctx)
		if err != nil {
			return nil, fmt.Errorf("bench: seed: %w", err)
		}
		defer func() {
			if rerr := restore(context.WithoutCancel(ctx)); rerr != nil && err == nil {
				err = fmt.Errorf("bench: seed: %w", rerr)
			}
		}()
	}
	res = &SeedResult{Models: opts.Models}
	rng := rand.New(rand.NewPCG(opts.RandSeed, opts.RandSeed))
	name := func(i int) string { return fmt.Sprintf("%s%05d", opts.Prefix, i) }
	perModel := func(i int) int64 {
		n := opts.Versions / int64(opts.Models)
		if int64(i) < opts.Versions%int64(opts.Models) {
			n++
		}
		return n
	}

	// The work as a flat sequence: model i's versions, then its aliases.
	type step struct {
		model int
		alias bool
	}
	model, made := 0, int64(0)
	next := func() (step, bool) {
		for model < opts.Models {
			if made < perModel(model) {
				made++
				return step{model: model}, true
			}
			s := step{model: model, alias: made > 0}
			model, made = model+1, 0
			if s.alias {
				return s, true
			}
		}
		return step{}, false
	}

	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var batchVersions, batchAliases int64
		err := store.Update(ctx, func(tx cairn.Tx) error {
			svc := registry.New(joinedStore{tx}, blobs, registry.Options{})
			locked := map[string]bool{}
			// The direct path holds versions back and writes them in bulk
			// (see bulkTx), always before the service writes anything
			// else, so the audit trail stays in the service path's order.
			bulk, _ := tx.(bulkTx)
			var held []heldVersion
			flush := func() error {
				err := writeHeld(ctx, bulk, actor, held)
				held = held[:0]
				return err
			}
			for n := 0; n < opts.Batch; {
				s, ok := next()
				if !ok {
					done = true
					break
				}
				m := name(s.model)
				if s.alias {
					if err := flush(); err != nil {
						return err
					}
					mod, err := svc.GetModel(ctx, m)
					if err != nil {
						return err
					}
					latest := mod.LatestVersion
					for _, a := range []struct {
						name string
						to   int64
					}{{SeedAliasChampion, max(1, latest*9/10)}, {SeedAliasStaging, latest}} {
						if _, err := svc.SetAlias(ctx, m, a.name, a.to, nil); err != nil {
							return fmt.Errorf("set %s@%s: %w", m, a.name, err)
						}
						batchAliases++
					}
					continue
				}
				spec := seedSpec(rng, files[rng.IntN(len(files))])
				if opts.ViaService {
					cr, err := svc.CreateVersion(ctx, m, spec)
					if err != nil {
						return fmt.Errorf("create a version of %s: %w", m, err)
					}
					if len(cr.Missing) > 0 || cr.Existing {
						return fmt.Errorf("create a version of %s: unexpected answer %+v", m, cr)
					}
					if _, err := svc.FinalizeVersion(ctx, m, cr.Version.Number, nil); err != nil {
						return fmt.Errorf("finalize %s: %w", cr.Version.Ref(), err)
					}
				} else {
					if !locked[m] {
						if _, err := tx.LockModel(ctx, m); cairn.IsCode(err, cairn.ENOTFOUND) {
							// The service creates the model, as a push would.
							if err := flush(); err != nil {
								return err
							}
							if _, err := svc.CreateModel(ctx, registry.ModelCreate{Name: m}); err != nil {
								return fmt.Errorf("create model %s: %w", m, err)
							}
							if _, err := tx.LockModel(ctx, m); err != nil {
								return err
							}
						} else if err != nil {
							return err
						}
						locked[m] = true
					}
					cairn.SortFiles(spec.Files)
					if err := spec.Validate(); err != nil {
						return err
					}
					if bulk != nil {
						held = append(held, heldVersion{model: m, spec: spec})
					} else if err := createReady(ctx, tx, actor, m, spec); err != nil {
						return err
					}
				}
				batchVersions++
				n++
			}
			return flush()
		})
		if err != nil {
			return res, fmt.Errorf("bench: seed: %w", err)
		}
		res.Versions += batchVersions
		res.Aliases += batchAliases
		if opts.Progress != nil && batchVersions+batchAliases > 0 {
			opts.Progress(res.Versions, time.Since(start))
		}
	}
	res.Elapsed = time.Since(start)
	if s := res.Elapsed.Seconds(); s > 0 {
		res.PerSec = float64(res.Versions) / s
	}
	return res, nil
}

// createReady writes a ready version of model, whose row the transaction
// has locked, and the records the service's CreateVersion and
// FinalizeVersion would append for it.
func createReady(ctx context.Context, tx cairn.Tx, actor cairn.Actor, model string, spec cairn.VersionSpec) error {
	number, err := tx.AllocateVersion(ctx, model)
	if err != nil {
		return err
	}
	v, pending, ready, err := readyVersion(actor, model, number, spec, cairn.Timestamp(time.Now()))
	if err != nil {
		return err
	}
	if err := tx.CreateVersion(ctx, v); err != nil {
		return err
	}
	for _, r := range versionRecords(actor, v, pending, ready) {
		if err := tx.AppendAudit(ctx, r.audit); err != nil {
			return fmt.Errorf("append audit entry: %w", err)
		}
		if err := tx.AppendEvent(ctx, r.event); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
	}
	return nil
}

// readyVersion returns the version record the service's CreateVersion and
// FinalizeVersion make of spec (validated, its files sorted), as number of
// model, ready, and its JSON as the service records it before and after
// finalizing: pending, then ready.
func readyVersion(actor cairn.Actor, model string, number int64, spec cairn.VersionSpec, now time.Time) (v *cairn.Version, pending, ready json.RawMessage, err error) {
	v = &cairn.Version{
		Model: model, Number: number, Kind: cairn.KindModel,
		Files: spec.Files, Digest: cairn.ManifestDigest(spec.Files), Size: cairn.TotalSize(spec.Files),
		SourceCodeVersion: spec.SourceCodeVersion, Metrics: spec.Metrics, Params: spec.Params,
		Framework: spec.Framework, DerivedFrom: []string{}, Inputs: []string{}, Evaluates: []string{},
		CreatedBy: actor.Name, CreatedByVerified: actor.Verified, CreatedAt: now, UpdatedAt: now,
		Tags: spec.Tags, Aliases: []string{}, Status: cairn.StatusPending, Stage: cairn.StageNone, ApprovalStatus: cairn.ApprovalNone,
	}
	if pending, err = json.Marshal(v); err != nil {
		return nil, nil, nil, err
	}
	v.Status = cairn.StatusReady
	if ready, err = json.Marshal(v); err != nil {
		return nil, nil, nil, err
	}
	return v, pending, ready, nil
}

// versionRecord is one audit entry and its event.
type versionRecord struct {
	audit *cairn.AuditEntry
	event *cairn.Event
}

// versionRecords are what the service appends for a version it creates
// and finalizes: version.created with the pending state as "after", then
// version.ready with pending → ready, each with its event.
func versionRecords(actor cairn.Actor, v *cairn.Version, pending, ready json.RawMessage) [2]versionRecord {
	var out [2]versionRecord
	for i, r := range []struct {
		action        string
		before, after json.RawMessage
	}{
		{cairn.EventVersionCreated, nil, pending},
		{cairn.EventVersionReady, pending, ready},
	} {
		out[i] = versionRecord{
			audit: &cairn.AuditEntry{
				Time: v.CreatedAt, Actor: actor.Name, ActorVerified: actor.Verified,
				Action: r.action, Target: v.Ref(), Before: r.before, After: r.after,
			},
			event: &cairn.Event{
				ID: newEventID(), Type: r.action, Time: v.CreatedAt, Actor: actor.Name, Model: v.Model, Payload: r.after,
			},
		}
	}
	return out
}

// bulkTx is what a store's write transaction offers the seeder to write
// many versions in a few statements (internal/sqlite and
// internal/postgres implement it): AllocateVersions reserves n numbers of
// a model at once and returns the first; CreateVersionsBulk inserts ready
// versions with their fixed fields encoded and appends the audit entries
// and events in order, filling their sequence numbers and hash chain as
// AppendAudit and AppendEvent would.
type bulkTx interface {
	AllocateVersions(ctx context.Context, model string, n int64) (int64, error)
	CreateVersionsBulk(ctx context.Context, vs []*cairn.Version, audit []*cairn.AuditEntry, events []*cairn.Event) error
}

// bulkStore is a store with settings for a bulk load (internal/sqlite
// has them): BulkMode applies them and returns what restores the ones
// before, which Seed calls when it is done.
type bulkStore interface {
	BulkMode(ctx context.Context) (restore func(context.Context) error, err error)
}

// heldVersion is a version the direct path has yet to write.
type heldVersion struct {
	model string
	spec  cairn.VersionSpec
}

// writeHeld writes held versions through bulk: each run of one model's
// versions gets its numbers in one allocation, and all of them, their
// audit entries and their events go in one CreateVersionsBulk, in the
// order createReady would write them one by one.
func writeHeld(ctx context.Context, bulk bulkTx, actor cairn.Actor, held []heldVersion) error {
	if len(held) == 0 {
		return nil
	}
	now := cairn.Timestamp(time.Now())
	vs := make([]*cairn.Version, 0, len(held))
	audit := make([]*cairn.AuditEntry, 0, 2*len(held))
	events := make([]*cairn.Event, 0, 2*len(held))
	for i := 0; i < len(held); {
		j := i + 1
		for j < len(held) && held[j].model == held[i].model {
			j++
		}
		first, err := bulk.AllocateVersions(ctx, held[i].model, int64(j-i))
		if err != nil {
			return err
		}
		for k := i; k < j; k++ {
			v, pending, ready, err := readyVersion(actor, held[k].model, first+int64(k-i), held[k].spec, now)
			if err != nil {
				return err
			}
			vs = append(vs, v)
			for _, r := range versionRecords(actor, v, pending, ready) {
				audit = append(audit, r.audit)
				events = append(events, r.event)
			}
		}
		i = j
	}
	return bulk.CreateVersionsBulk(ctx, vs, audit, events)
}

// newEventID returns 32 random hex digits, the shape of the service's ids.
func newEventID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// seedSpec makes one version's record: one file, metrics, params, tags.
func seedSpec(rng *rand.Rand, f cairn.File) cairn.VersionSpec {
	auc := 0.4 + 0.6*rng.Float64()
	var commit [20]byte
	for i := range commit {
		commit[i] = byte(rng.Uint32())
	}
	return cairn.VersionSpec{
		Files: []cairn.File{f},
		Metrics: map[string]float64{
			"auc":      round4(auc),
			"accuracy": round4(0.5 + 0.5*rng.Float64()),
			"loss":     round4(rng.Float64()),
		},
		Params: map[string]string{
			"learning_rate": strconv.FormatFloat(round4(0.001+0.1*rng.Float64()), 'f', -1, 64),
			"max_depth":     strconv.Itoa(2 + rng.IntN(14)),
		},
		Framework:         seedFrameworks[rng.IntN(len(seedFrameworks))],
		SourceCodeVersion: fmt.Sprintf("%x", commit),
		Tags: map[string]string{
			"team": seedTeams[rng.IntN(len(seedTeams))],
			"env":  []string{"dev", "prod"}[rng.IntN(2)],
		},
	}
}

func round4(f float64) float64 {
	return float64(int64(f*10000+0.5)) / 10000
}

// putSeedBlobs stores the seed's shared files and returns their manifest
// entries.
func putSeedBlobs(ctx context.Context, blobs cairn.BlobStore) ([]cairn.File, error) {
	rng := rand.New(rand.NewPCG(42, 42))
	files := make([]cairn.File, seedBlobs)
	for i := range files {
		b := make([]byte, 1024)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		d := cairn.DigestOf(b)
		files[i] = cairn.File{Path: "model.bin", Size: int64(len(b)), Digest: d}
		if size, err := blobs.Stat(ctx, d); err == nil && size == int64(len(b)) {
			continue // from an earlier seed
		}
		if err := blobs.Put(ctx, d, int64(len(b)), bytesReader(b)); err != nil {
			return nil, fmt.Errorf("bench: seed: store a blob: %w", err)
		}
	}
	return files, nil
}

// joinedStore presents one open transaction as a whole store, so that a
// registry.Service built on it runs every operation inside that
// transaction: Update calls fn on the same transaction instead of opening
// a new one, and reads see the transaction's own writes. The service's
// rules are unchanged; only the commit is shared. A failed operation may
// leave partial writes in the transaction, so the caller must roll the
// whole transaction back on any error, as Seed does.
type joinedStore struct{ cairn.Tx }

func (s joinedStore) Update(_ context.Context, fn func(cairn.Tx) error) error { return fn(s.Tx) }

func (joinedStore) Close() error { return nil }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
