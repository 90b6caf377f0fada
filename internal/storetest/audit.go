package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var auditTests = []test{
	{"Chain", testAuditChain},
	{"ListFilters", testAuditList},
}

var eventTests = []test{
	{"Sequence", testEventSequence},
	{"List", testEventList},
}

func auditEntry(i int, actor, action, target string) *cairn.AuditEntry {
	return &cairn.AuditEntry{
		Time:          at(i),
		Actor:         actor,
		ActorVerified: i%2 == 0,
		Action:        action,
		Target:        target,
		After:         json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)),
		RequestID:     fmt.Sprintf("req-%d", i),
	}
}

func appendAudit(t testing.TB, s cairn.Store, es ...*cairn.AuditEntry) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error {
		for _, e := range es {
			if err := tx.AppendAudit(t.Context(), e); err != nil {
				return err
			}
		}
		return nil
	})
}

// verifyChain checks what `cairn audit verify` checks: seqs 1, 2, 3, …,
// each PrevHash the previous Hash, each Hash recomputable.
func verifyChain(t testing.TB, es []*cairn.AuditEntry) {
	t.Helper()
	prev := ""
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if e.PrevHash != prev {
			t.Fatalf("entry %d: PrevHash %q, want the previous hash %q", e.Seq, e.PrevHash, prev)
		}
		if h := e.ComputeHash(prev); e.Hash != h {
			t.Fatalf("entry %d: Hash %q, but ComputeHash gives %q", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
}

// AppendAudit numbers entries 1, 2, 3 … and chains their hashes; a
// rolled-back append leaves no gap; what is read back verifies.
func testAuditChain(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	e1 := auditEntry(1, "alice", cairn.EventModelCreated, "churn")
	e1.Before = nil
	// Not canonical JSON, and unusual bytes: stored and hashed exactly.
	e2 := auditEntry(2, "bob", cairn.EventVersionCreated, "churn@v1")
	e2.Before = json.RawMessage(`{"b":1,  "a":[true, null], "s":"\u00e9\n"}`)
	// Nanoseconds: the store keeps microseconds, and must hash what it keeps.
	e2.Time = at(2).Add(789 * time.Nanosecond)
	appendAudit(t, s, e1, e2)
	if e1.Seq != 1 || e2.Seq != 2 {
		t.Fatalf("seqs %d, %d; want 1, 2", e1.Seq, e2.Seq)
	}
	if e1.PrevHash != "" || e2.PrevHash != e1.Hash || e1.Hash == "" {
		t.Fatalf("chain: e1 prev %q hash %q, e2 prev %q", e1.PrevHash, e1.Hash, e2.PrevHash)
	}
	if !e2.Time.Equal(at(2)) {
		t.Errorf("AppendAudit left Time = %v, want it truncated to %v", e2.Time, at(2))
	}

	err := s.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.AppendAudit(ctx, auditEntry(3, "mallory", "x", "y")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e3 := auditEntry(3, "carol", cairn.EventAliasSet, "churn@champion")
	appendAudit(t, s, e3)
	if e3.Seq != 3 || e3.PrevHash != e2.Hash {
		t.Fatalf("after a rollback: seq %d prev %q; want 3 and %q", e3.Seq, e3.PrevHash, e2.Hash)
	}

	got, err := s.ListAudit(ctx, cairn.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.AuditEntry{e1, e2, e3}, got); diff != "" {
		t.Errorf("ListAudit (-want +got):\n%s", diff)
	}
	if string(got[1].Before) != string(e2.Before) {
		t.Errorf("Before bytes changed: %q, want %q", got[1].Before, e2.Before)
	}
	if got[0].Before != nil {
		t.Errorf("nil Before read back as %q", got[0].Before)
	}
	verifyChain(t, got)

	// Inside a transaction, the chain continues from what the tx sees.
	update(t, s, func(tx cairn.Tx) error {
		e4 := auditEntry(4, "dan", "x", "z")
		if err := tx.AppendAudit(ctx, e4); err != nil {
			return err
		}
		got, err := tx.ListAudit(ctx, cairn.AuditQuery{AfterSeq: 3})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Hash != e4.Hash || e4.PrevHash != e3.Hash {
			return fmt.Errorf("tx.ListAudit after append = %+v", got)
		}
		return nil
	})
}

func auditSeqs(es []*cairn.AuditEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func testAuditList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	appendAudit(t, s,
		auditEntry(1, "alice", cairn.EventModelCreated, "churn"),               // 1
		auditEntry(2, "alice", cairn.EventVersionCreated, "churn@v1"),          // 2
		auditEntry(3, "bob", cairn.EventModelCreated, "fraud"),                 // 3
		auditEntry(4, "bob", cairn.EventAliasSet, "churn@champion"),            // 4
		auditEntry(5, "alice", cairn.EventVersionCreated, "fraud@v1"),          // 5
		auditEntry(6, "carol", cairn.EventModelCreated, "churn_100%"),          // 6: LIKE wildcards are literal
		auditEntry(7, "carol", cairn.EventVersionCreated, "churn_100%@v1"),     // 7
		auditEntry(8, "dan", cairn.EventModelCreated, "churnx1000"),            // 8: LIKE 'churn_100%' would match
		auditEntry(9, "dan", cairn.EventModelCreated, "fraud\u00e9\U0010fffd"), // 9: non-ASCII after the prefix
	)
	for _, tc := range []struct {
		name string
		q    cairn.AuditQuery
		want []int64
	}{
		{"all", cairn.AuditQuery{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"after", cairn.AuditQuery{AfterSeq: 5}, []int64{6, 7, 8, 9}},
		{"limit", cairn.AuditQuery{Limit: 2}, []int64{1, 2}},
		{"after and limit", cairn.AuditQuery{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"target prefix", cairn.AuditQuery{Target: "churn@"}, []int64{2, 4}},
		{"target model", cairn.AuditQuery{Target: "fraud"}, []int64{3, 5}},
		{"target model is not a name prefix", cairn.AuditQuery{Target: "churn"}, []int64{1, 2, 4}},
		{"target exact version", cairn.AuditQuery{Target: "churn@v1"}, []int64{2}},
		{"target with wildcards", cairn.AuditQuery{Target: "churn_100%"}, []int64{6, 7}},
		{"target no match", cairn.AuditQuery{Target: "churn_1000"}, []int64{}},
		{"target non-ASCII", cairn.AuditQuery{Target: "fraud\u00e9\U0010fffd"}, []int64{9}},
		{"actor", cairn.AuditQuery{Actor: "bob"}, []int64{3, 4}},
		{"action", cairn.AuditQuery{Action: cairn.EventVersionCreated}, []int64{2, 5, 7}},
		{"actor and action", cairn.AuditQuery{Actor: "alice", Action: cairn.EventVersionCreated}, []int64{2, 5}},
		{"since", cairn.AuditQuery{Since: at(6)}, []int64{6, 7, 8, 9}},
		{"until (exclusive)", cairn.AuditQuery{Until: at(3)}, []int64{1, 2}},
		{"since and until", cairn.AuditQuery{Since: at(2), Until: at(4)}, []int64{2, 3}},
		{"nothing", cairn.AuditQuery{Actor: "nobody"}, []int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("ListAudit returned nil, want an empty slice")
			}
			if diff := cmp.Diff(tc.want, auditSeqs(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func newEvent(i int, typ string) *cairn.Event {
	return &cairn.Event{
		ID:      fmt.Sprintf("evt-%d", i),
		Type:    typ,
		Time:    at(i),
		Actor:   "alice",
		Model:   "churn",
		Alias:   "champion",
		Payload: json.RawMessage(fmt.Sprintf(`{"n": %d,  "x": "\u00e9"}`, i)),
	}
}

// AppendEvent numbers events 1, 2, 3 …; a rolled-back append leaves no
// gap, so a cursor reader never skips one.
func testEventSequence(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	var want []*cairn.Event
	appendEv := func(ev *cairn.Event, fail bool) error {
		return s.Update(ctx, func(tx cairn.Tx) error {
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
			if fail {
				return errRollback
			}
			return nil
		})
	}
	for i := 1; i <= 6; i++ {
		ev := newEvent(i, cairn.EventVersionCreated)
		fail := i == 2 || i == 3
		if err := appendEv(ev, fail); fail && !errors.Is(err, errRollback) || !fail && err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !fail {
			want = append(want, ev)
		}
	}
	for i, ev := range want {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %s has seq %d, want %d", ev.ID, ev.Seq, i+1)
		}
	}
	got, err := s.ListEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListEvents (-want +got):\n%s", diff)
	}
	// Event ids are unique.
	wantCode(t, appendEv(newEvent(1, "x"), false), cairn.ECONFLICT)
	// Time is kept to the microsecond.
	ev := newEvent(10, cairn.EventAliasSet)
	ev.Time = at(10).Add(999 * time.Nanosecond)
	if err := appendEv(ev, false); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListEvents(ctx, int64(len(want)), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Event{ev}, got); diff != "" {
		t.Errorf("event with nanoseconds (-want +got):\n%s", diff)
	}
}

func testEventList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	update(t, s, func(tx cairn.Tx) error {
		for i := 1; i <= 25; i++ {
			if err := tx.AppendEvent(ctx, newEvent(i, cairn.EventTagSet)); err != nil {
				return err
			}
		}
		return nil
	})
	seqs := func(es []*cairn.Event) []int64 {
		out := make([]int64, len(es))
		for i, e := range es {
			out[i] = e.Seq
		}
		return out
	}
	for _, tc := range []struct {
		after      int64
		limit      int
		first, end int64 // want seqs first..end-1
	}{
		{0, 10, 1, 11},
		{10, 10, 11, 21},
		{20, 10, 21, 26},
		{25, 10, 26, 26},
		{0, 0, 1, 26}, // 0 means the default page, which holds all 25
		{3, 1, 4, 5},
	} {
		got, err := s.ListEvents(ctx, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{}
		for i := tc.first; i < tc.end; i++ {
			want = append(want, i)
		}
		if diff := cmp.Diff(want, seqs(got)); diff != "" {
			t.Errorf("ListEvents(%d, %d) (-want +got):\n%s", tc.after, tc.limit, diff)
		}
	}
}
