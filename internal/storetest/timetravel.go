package storetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var timeTravelTests = []test{
	{"AliasAt", testAliasAt},
	{"Checkpoints", testAuditCheckpoints},
}

// AliasAt answers from the history: nothing before the first move, each
// move from its exact time on, the deletion as a move to 0, the later of
// two moves at the same time, other aliases and models kept apart, and
// the history following a rename.
func testAliasAt(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindModel)
	for i := 0; i < 3; i++ {
		createVersion(t, s, "churn", nil)
	}
	createVersion(t, s, "fraud", nil)
	moveAlias(t, s, "churn", "production", 0, 1, at(10))
	moveAlias(t, s, "churn", "production", 1, 2, at(20))
	moveAlias(t, s, "churn", "staging", 0, 3, at(25))
	moveAlias(t, s, "fraud", "production", 0, 1, at(26))
	moveAlias(t, s, "churn", "production", 2, 0, at(30)) // deleted
	moveAlias(t, s, "churn", "production", 0, 3, at(40))
	// Two moves in the same microsecond: the later one wins.
	moveAlias(t, s, "churn", "production", 3, 1, at(50))
	moveAlias(t, s, "churn", "production", 1, 2, at(50))

	us := time.Microsecond
	for _, tc := range []struct {
		name   string
		alias  string
		when   time.Time
		wantTo int64 // -1: ENOTFOUND
		wantAt time.Time
	}{
		{"before it existed", "production", at(10).Add(-us), -1, time.Time{}},
		{"long before", "production", at(-1000), -1, time.Time{}},
		{"at the first move", "production", at(10), 1, at(10)},
		{"between moves", "production", at(15), 1, at(10)},
		{"just before the second move", "production", at(20).Add(-us), 1, at(10)},
		{"at the second move", "production", at(20), 2, at(20)},
		{"at the deletion", "production", at(30), 0, at(30)},
		{"after the deletion", "production", at(35), 0, at(30)},
		{"set again", "production", at(40), 3, at(40)},
		{"same instant, later move", "production", at(50), 2, at(50)},
		{"now", "production", at(1000), 2, at(50)},
		{"another alias", "staging", at(26), 3, at(25)},
		{"another alias before", "staging", at(24), -1, time.Time{}},
		{"never set", "canary", at(1000), -1, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := s.AliasAt(ctx, "churn", tc.alias, tc.when)
			if tc.wantTo < 0 {
				wantCode(t, err, cairn.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Model != "churn" || m.Alias != tc.alias || m.To != tc.wantTo || !m.At.Equal(tc.wantAt) || m.Actor != "carol" {
				t.Errorf("AliasAt = %+v; want churn@%s -> %d moved at %v by carol", m, tc.alias, tc.wantTo, tc.wantAt)
			}
		})
	}
	_, err := s.AliasAt(ctx, "nope", "production", at(1000))
	wantCode(t, err, cairn.ENOTFOUND)
	// Inside a transaction, and after a rename under the new name.
	update(t, s, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "churn", "churn2", at(60)) })
	update(t, s, func(tx cairn.Tx) error {
		m, err := tx.AliasAt(ctx, "churn2", "production", at(21))
		if err != nil {
			return err
		}
		if m.To != 2 || m.Model != "churn2" {
			t.Errorf("after rename: AliasAt = %+v; want churn2 -> 2", m)
		}
		return nil
	})
}

// Checkpoints are stored as given, listed in order by pages, refused when
// their seq exists (without spoiling the transaction), and their
// signatures survive the round trip. AuditHead follows appends.
func testAuditCheckpoints(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	head, err := s.AuditHead(ctx)
	if err != nil || head != 0 {
		t.Fatalf("AuditHead of an empty store = %d, %v; want 0", head, err)
	}
	for i := 1; i <= 5; i++ {
		appendAudit(t, s, auditEntry(i, "alice", cairn.EventModelCreated, "churn"))
	}
	if head, err = s.AuditHead(ctx); err != nil || head != 5 {
		t.Fatalf("AuditHead = %d, %v; want 5", head, err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.ListAudit(ctx, cairn.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var want []*cairn.AuditCheckpoint
	for _, seq := range []int64{2, 4, 5} {
		c := &cairn.AuditCheckpoint{Seq: seq, Hash: es[seq-1].Hash, Time: at(int(seq) + 100).Add(789)}
		c.Sign(key)
		update(t, s, func(tx cairn.Tx) error { return tx.PutAuditCheckpoint(ctx, c) })
		want = append(want, c)
	}
	update(t, s, func(tx cairn.Tx) error {
		dup := *want[1]
		wantCode(t, tx.PutAuditCheckpoint(ctx, &dup), cairn.ECONFLICT)
		// The transaction goes on.
		head, err := tx.AuditHead(ctx)
		if err != nil || head != 5 {
			t.Errorf("after a conflict, AuditHead = %d, %v", head, err)
		}
		return nil
	})
	got, err := s.ListAuditCheckpoints(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListAuditCheckpoints (-want +got):\n%s", diff)
	}
	pub := key.Public().(ed25519.PublicKey)
	for _, c := range got {
		if !c.Verify(pub) {
			t.Errorf("checkpoint %d does not verify after the round trip", c.Seq)
		}
	}
	page, err := s.ListAuditCheckpoints(ctx, 2, 1)
	if err != nil || len(page) != 1 || page[0].Seq != 4 {
		t.Errorf("ListAuditCheckpoints(after 2, limit 1) = %v, %v; want [4]", page, err)
	}
	if r, err := cairn.VerifyAudit(ctx, s, pub); err != nil || !r.OK || r.Checkpoints != 3 || r.LastCheckpoint.Seq != 5 {
		t.Errorf("VerifyAudit = %+v, %v; want OK with 3 checkpoints", r, err)
	}
}
