package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// The checkpoint policy: nothing to sign on an empty log, the first
// checkpoint at once, then nothing until Every entries or Interval; and of two replicas (two
// checkpointers) only the lease holder writes, until its lease lapses.
func TestCheckpointPolicyAndLease(t *testing.T) {
	t.Parallel()
	ctx := cairn.NewContextWithActor(context.Background(), cairn.Actor{Name: "alice"})
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := New(db, blobs, Options{Now: func() time.Time { return now }, AuditKey: key})
	pol := CheckpointPolicy{Every: 5, Interval: time.Hour}
	a := &checkpointer{holder: "replica-a", lease: 3 * time.Minute}
	b := &checkpointer{holder: "replica-b", lease: 3 * time.Minute}
	models := 0
	appendEntries := func(n int) {
		for range n {
			models++
			if _, err := svc.CreateModel(ctx, ModelCreate{Name: fmt.Sprintf("m%d", models)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	step := func(who *checkpointer, wantSeq int64) {
		t.Helper()
		c, err := svc.checkpoint(ctx, who, pol, false)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case wantSeq == 0 && c != nil:
			t.Fatalf("%s wrote checkpoint %d, want none", who.holder, c.Seq)
		case wantSeq != 0 && (c == nil || c.Seq != wantSeq):
			t.Fatalf("%s wrote %+v, want a checkpoint of entry %d", who.holder, c, wantSeq)
		case c != nil && !c.Verify(pub):
			t.Fatalf("checkpoint %d does not verify", c.Seq)
		}
	}
	step(a, 0) // empty log
	appendEntries(3)
	step(a, 3) // the first checkpoint is due at once
	step(a, 0) // the head is checkpointed
	appendEntries(2)
	step(a, 0) // 2 < 5 entries, and the interval has not passed
	appendEntries(3)
	step(b, 0) // a holds the lease
	step(a, 8)
	now = now.Add(2 * time.Hour) // a's lease lapses (a stopped)
	appendEntries(1)
	step(b, 9) // the interval has passed, with one new entry
	step(a, 0) // b holds the lease now
	rep, err := cairn.VerifyAudit(ctx, db, pub)
	if err != nil || !rep.OK || rep.Checkpoints != 3 {
		t.Fatalf("VerifyAudit = %+v, %v; want OK with 3 checkpoints", rep, err)
	}
	// Without a key there is nothing to sign with.
	bare := New(db, blobs, Options{})
	if _, err := bare.Checkpoint(ctx, true); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Fatalf("Checkpoint without a key: %v, want failed_precondition", err)
	}
}
