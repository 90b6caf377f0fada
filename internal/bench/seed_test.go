package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// openSQLite opens a fresh registry on SQLite and a blob directory.
func openSQLite(t testing.TB) (cairn.Store, cairn.BlobStore) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	return db, blobs
}

// openPostgres opens a fresh registry on PostgreSQL (testenv provisions
// the database) and a blob directory.
func openPostgres(t testing.TB) (cairn.Store, cairn.BlobStore) {
	t.Helper()
	url := testenv.PostgresURL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	return db, blobs
}

func TestSeed(t *testing.T) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) (cairn.Store, cairn.BlobStore)
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		for _, via := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ViaService=%v", backend.name, via), func(t *testing.T) {
				t.Parallel()
				store, blobs := backend.open(t)
				seedAndCheck(t, store, blobs, via)
			})
		}
	}
}

// seedAndCheck seeds 250 versions over 7 models and checks what the
// registry then holds, through the service and the store.
func seedAndCheck(t *testing.T, store cairn.Store, blobs cairn.BlobStore, viaService bool) {
	t.Helper()
	ctx := context.Background()
	const models, versions = 7, 250
	var calls int
	res, err := Seed(ctx, store, blobs, SeedOptions{Models: models, Versions: versions, Batch: 40, ViaService: viaService,
		Progress: func(int64, time.Duration) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Versions != versions || res.Models != models || res.Aliases != 2*models {
		t.Fatalf("result = %+v; want %d versions, %d models, %d alias moves", res, versions, models, 2*models)
	}
	if calls < versions/40 {
		t.Errorf("progress called %d times; want one per transaction, at least %d", calls, versions/40)
	}

	svc := registry.New(store, blobs, registry.Options{})
	for i := range models {
		name := fmt.Sprintf("bench-%05d", i)
		want := int64(versions / models)
		if i < versions%models {
			want++
		}
		m, err := svc.GetModel(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if m.LatestVersion != want {
			t.Errorf("%s has %d versions; want %d", name, m.LatestVersion, want)
		}
		if got := m.Aliases[SeedAliasStaging]; got != want {
			t.Errorf("%s@staging = %d; want %d", name, got, want)
		}
		if got := m.Aliases[SeedAliasChampion]; got != max(1, want*9/10) {
			t.Errorf("%s@champion = %d; want %d", name, got, max(1, want*9/10))
		}
		v, err := svc.Resolve(ctx, name+"@"+SeedAliasChampion)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != cairn.StatusReady || len(v.Files) != 1 || v.Tags["team"] == "" || v.Metrics["auc"] < 0.4 {
			t.Errorf("%s: unexpected seeded version %+v", v.Ref(), v)
		}
		latest, err := svc.Resolve(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if latest.Number != want {
			t.Errorf("%s resolves to %s; want version %d", name, latest.Ref(), want)
		}
		page, err := svc.ListVersions(ctx, name, registry.ListRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(page.Items)) != want {
			t.Errorf("%s lists %d versions; want %d", name, len(page.Items), want)
		}
		// Every version has its fixed fields pre-encoded, as the store
		// encodes them when a version becomes ready through the service:
		// what a read renders equals what it decodes.
		for n := int64(1); n <= want; n++ {
			full, err := store.GetVersion(ctx, name, n)
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := store.GetVersion(cairn.NewContextWithFixedJSON(ctx), name, n)
			if err != nil {
				t.Fatal(err)
			}
			wantFixed, err := full.EncodeFixed()
			if err != nil {
				t.Fatal(err)
			}
			if rendered.FixedJSON == nil || string(rendered.FixedJSON) != string(wantFixed) {
				t.Fatalf("%s: fixed_json\n%s\nwant\n%s", full.Ref(), rendered.FixedJSON, wantFixed)
			}
		}
		// The files are in the blob store: the version can be pulled.
		if _, err := blobs.Stat(ctx, v.Files[0].Digest); err != nil {
			t.Errorf("%s: blob %s: %v", v.Ref(), v.Files[0].Digest, err)
		}
	}

	// One model.created per model, one version.created and one
	// version.ready per version, in one unbroken hash chain; one event per
	// audit entry.
	counts := map[string]int{}
	entries := auditLog(t, store)
	prev := ""
	for _, e := range entries {
		if e.PrevHash != prev || e.ComputeHash(prev) != e.Hash {
			t.Fatalf("audit chain broken at seq %d", e.Seq)
		}
		prev = e.Hash
		counts[e.Action]++
	}
	for action, want := range map[string]int{
		cairn.EventModelCreated: models, cairn.EventVersionCreated: versions,
		cairn.EventVersionReady: versions, cairn.EventAliasSet: 2 * models,
	} {
		if counts[action] != want {
			t.Errorf("%d audit entries %s; want %d", counts[action], action, want)
		}
	}
	events, after := 0, int64(0)
	for {
		evs, err := store.ListEvents(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if ev.Seq != after+1 {
				t.Fatalf("event %d follows event %d: the sequence has a gap", ev.Seq, after)
			}
			after = ev.Seq
		}
		events += len(evs)
	}
	if events != len(entries) {
		t.Errorf("%d events; want one per audit entry, %d", events, len(entries))
	}

	// A second seed adds versions to the same models, numbering on.
	if _, err := Seed(ctx, store, blobs, SeedOptions{Models: models, Versions: models, ViaService: viaService, RandSeed: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := svc.GetModel(ctx, "bench-00000")
	if err != nil {
		t.Fatal(err)
	}
	if m.LatestVersion != versions/models+2 {
		t.Errorf("after a second seed bench-00000 has %d versions; want %d", m.LatestVersion, versions/models+2)
	}
}

func auditLog(t *testing.T, store cairn.Store) []*cairn.AuditEntry {
	t.Helper()
	var out []*cairn.AuditEntry
	for {
		var after int64
		if len(out) > 0 {
			after = out[len(out)-1].Seq
		}
		page, err := store.ListAudit(context.Background(), cairn.AuditQuery{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
	}
}

// TestSeedMatchesService holds the fast path to what the service writes:
// the same seed both ways gives the same audit trail (actions, targets,
// before and after states), times aside.
func TestSeedMatchesService(t *testing.T) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) (cairn.Store, cairn.BlobStore)
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			seedMatchesService(t, backend.open)
		})
	}
}

func seedMatchesService(t *testing.T, open func(testing.TB) (cairn.Store, cairn.BlobStore)) {
	ctx := context.Background()
	// The bulk path, the one-row-at-a-time path of a store without bulk
	// writes, and the service.
	ways := []struct {
		name  string
		via   bool
		plain bool
	}{{"bulk", false, false}, {"one by one", false, true}, {"service", true, false}}
	logs := make([][]*cairn.AuditEntry, len(ways))
	// MLflow's latest version per stage, which SQLite keeps in a table
	// through triggers that every path's inserts must fire.
	latest := make([][]string, len(ways))
	models := []string{"bench-00000", "bench-00001", "bench-00002"}
	for i, w := range ways {
		via := w.via
		store, blobs := open(t)
		if w.plain {
			store = plainStore{store}
		}
		// A small batch, so that transactions end inside a model's run of
		// versions too.
		if _, err := Seed(ctx, store, blobs, SeedOptions{Models: 3, Versions: 20, Batch: 5, ViaService: via, RandSeed: 7}); err != nil {
			t.Fatal(err)
		}
		logs[i] = auditLog(t, store)
		vs, err := store.LatestPerStage(ctx, models)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			latest[i] = append(latest[i], v.Ref()+" "+string(v.Stage))
		}
		// What `cairn audit verify` checks: the chain, and the counter.
		if rep, err := cairn.VerifyAudit(ctx, store, nil); err != nil {
			t.Fatal(err)
		} else if !rep.OK || rep.Entries != int64(len(logs[i])) {
			t.Errorf("ViaService=%v: audit verification %+v", via, rep)
		}
	}
	for w := range ways[:len(ways)-1] {
		if diff := cmp.Diff(latest[len(ways)-1], latest[w]); diff != "" || len(latest[w]) != len(models) {
			t.Errorf("LatestPerStage after seeding, -service +%s:\n%s", ways[w].name, diff)
		}
	}
	service := logs[len(logs)-1]
	for w, log := range logs[:len(logs)-1] {
		if len(log) != len(service) {
			t.Fatalf("%s wrote %d audit entries, the service %d", ways[w].name, len(log), len(service))
		}
		for i := range log {
			a, b := log[i], service[i]
			if a.Action != b.Action || a.Target != b.Target || a.Actor != b.Actor {
				t.Fatalf("entry %d: %s %s %s by %s, service %s %s by %s", i+1, ways[w].name, a.Action, a.Target, a.Actor, b.Action, b.Target, b.Actor)
			}
			for _, side := range []struct {
				name string
				a, b json.RawMessage
			}{{"before", a.Before, b.Before}, {"after", a.After, b.After}} {
				if diff := cmp.Diff(withoutTimes(t, side.b), withoutTimes(t, side.a)); diff != "" {
					t.Errorf("entry %d (%s %s) %s differs, -service +%s:\n%s", i+1, a.Action, a.Target, side.name, ways[w].name, diff)
				}
			}
		}
	}
}

// plainStore hides a store's bulk writes and bulk mode: its transactions
// offer only cairn.Tx.
type plainStore struct{ cairn.Store }

func (s plainStore) Update(ctx context.Context, fn func(cairn.Tx) error) error {
	return s.Store.Update(ctx, func(tx cairn.Tx) error { return fn(plainTx{tx}) })
}

type plainTx struct{ cairn.Tx }

// withoutTimes decodes a JSON state and drops its time members.
func withoutTimes(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	if raw == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if strings.HasSuffix(k, "_at") {
			delete(m, k)
		}
	}
	return m
}

// BenchmarkSeed seeds b.N versions over 100 models into a fresh SQLite
// registry; run with -cpuprofile to see where a seed spends its time.
func BenchmarkSeed(b *testing.B) {
	store, blobs := openSQLite(b)
	b.ResetTimer()
	res, err := Seed(context.Background(), store, blobs, SeedOptions{Models: 100, Versions: int64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.PerSec, "versions/s")
}
