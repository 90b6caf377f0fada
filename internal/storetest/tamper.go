package storetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

// Exec runs one SQL statement on a store's database behind the store's
// back, as someone with write access to the database would. The
// statements RunTamper sends are plain SQL that SQLite and PostgreSQL both
// accept (no placeholders).
type Exec func(t testing.TB, sql string)

// RunTamper checks that cairn.VerifyAudit catches an audit log edited in
// the database directly: an edited entry, a deleted one, two swapped, a
// truncated tail, a rewritten tail with recomputed hashes, a forged
// checkpoint. open returns a new, empty store and a way to edit its tables;
// RunTamper closes the store.
func RunTamper(t *testing.T, open func(t testing.TB) (cairn.Store, Exec)) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	const n = 10
	for _, tc := range []struct {
		name string
		// checkpoint, if not 0, signs entry checkpoint before tampering.
		checkpoint int64
		tamper     func(t testing.TB, s cairn.Store, exec Exec)
		wantSeq    int64  // 0: the chain verifies
		wantReason string // a part of the problem's reason
	}{
		{name: "intact", checkpoint: n},
		{
			name: "edited entry",
			tamper: func(t testing.TB, _ cairn.Store, exec Exec) {
				exec(t, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 4`)
			},
			wantSeq: 4, wantReason: "edited",
		},
		{
			name: "edited before/after",
			tamper: func(t testing.TB, _ cairn.Store, exec Exec) {
				exec(t, `UPDATE audit_log SET after = '{"i": 99}' WHERE seq = 7`)
			},
			wantSeq: 7, wantReason: "edited",
		},
		{
			name:    "deleted entry",
			tamper:  func(t testing.TB, _ cairn.Store, exec Exec) { exec(t, `DELETE FROM audit_log WHERE seq = 5`) },
			wantSeq: 5, wantReason: "missing",
		},
		{
			name:    "deleted first entry",
			tamper:  func(t testing.TB, _ cairn.Store, exec Exec) { exec(t, `DELETE FROM audit_log WHERE seq = 1`) },
			wantSeq: 1, wantReason: "missing",
		},
		{
			name: "swapped entries",
			tamper: func(t testing.TB, _ cairn.Store, exec Exec) {
				exec(t, `UPDATE audit_log SET seq = -3 WHERE seq = 3`)
				exec(t, `UPDATE audit_log SET seq = 3 WHERE seq = 6`)
				exec(t, `UPDATE audit_log SET seq = 6 WHERE seq = -3`)
			},
			wantSeq: 3, wantReason: "reordered",
		},
		{
			name:    "truncated tail",
			tamper:  func(t testing.TB, _ cairn.Store, exec Exec) { exec(t, `DELETE FROM audit_log WHERE seq > 7`) },
			wantSeq: 8, wantReason: "truncated",
		},
		{
			// With the counter reset too, only a checkpoint still knows.
			name: "truncated tail and counter", checkpoint: 9,
			tamper: func(t testing.TB, _ cairn.Store, exec Exec) {
				exec(t, `DELETE FROM audit_log WHERE seq > 7`)
				exec(t, `UPDATE counters SET value = 7 WHERE name = 'audit'`)
			},
			wantSeq: 8, wantReason: "truncated",
		},
		{
			// Entry 5 edited and every hash from it on recomputed: the
			// chain is consistent again, but no longer the signed one.
			name: "rewritten tail", checkpoint: 8,
			tamper: func(t testing.TB, s cairn.Store, exec Exec) {
				es, err := s.ListAudit(t.Context(), cairn.AuditQuery{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				prev := es[3].Hash
				for _, e := range es[4:] {
					if e.Seq == 5 {
						e.Actor = "mallory"
					}
					e.PrevHash, e.Hash = prev, e.ComputeHash(prev)
					prev = e.Hash
					exec(t, fmt.Sprintf(`UPDATE audit_log SET actor = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`, e.Actor, e.PrevHash, e.Hash, e.Seq))
				}
			},
			wantSeq: 8, wantReason: "rewritten",
		},
		{
			name: "forged checkpoint", checkpoint: 6,
			tamper: func(t testing.TB, _ cairn.Store, exec Exec) {
				exec(t, `UPDATE audit_checkpoints SET hash = 'abc' WHERE seq = 6`)
			},
			wantSeq: 6, wantReason: "signature",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, exec := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			ctx := t.Context()
			for i := 1; i <= n; i++ {
				appendAudit(t, s, auditEntry(i, "alice", cairn.EventVersionCreated, fmt.Sprintf("churn@v%d", i)))
			}
			if tc.checkpoint > 0 {
				es, err := s.ListAudit(ctx, cairn.AuditQuery{AfterSeq: tc.checkpoint - 1, Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				c := &cairn.AuditCheckpoint{Seq: tc.checkpoint, Hash: es[0].Hash, Time: at(100)}
				c.Sign(key)
				update(t, s, func(tx cairn.Tx) error { return tx.PutAuditCheckpoint(ctx, c) })
			}
			if r, err := cairn.VerifyAudit(ctx, s, pub); err != nil || !r.OK {
				t.Fatalf("before tampering: VerifyAudit = %+v, %v; want OK", r, err)
			}
			if tc.tamper != nil {
				tc.tamper(t, s, exec)
			}
			r, err := cairn.VerifyAudit(ctx, s, pub)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSeq == 0 {
				if !r.OK || r.Problem != nil || r.Entries != n || r.Head != n {
					t.Fatalf("VerifyAudit = %+v, problem %v; want OK with %d entries", r, r.Problem, n)
				}
				if tc.checkpoint > 0 && (r.Checkpoints != 1 || r.SignaturesChecked != 1) {
					t.Errorf("checked %d checkpoints, %d signatures; want 1 and 1", r.Checkpoints, r.SignaturesChecked)
				}
				return
			}
			if r.OK || r.Problem == nil {
				t.Fatalf("VerifyAudit = %+v: tampering went unnoticed", r)
			}
			if r.Problem.Seq != tc.wantSeq || !strings.Contains(r.Problem.Reason, tc.wantReason) {
				t.Errorf("problem = %v; want entry %d, reason containing %q", r.Problem, tc.wantSeq, tc.wantReason)
			}
		})
	}
}
