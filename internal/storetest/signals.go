package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var signalTests = []test{
	{"RoundTripAndLists", testSignalRoundTrip},
	{"Pages", testSignalPages},
	{"NotFound", testSignalNotFound},
	{"Import", testSignalImport},
}

func createSignal(t testing.TB, s cairn.Store, sig *cairn.Signal) *cairn.Signal {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error { return tx.CreateSignal(t.Context(), sig) })
	return sig
}

func listSignals(t testing.TB, s cairn.Reader, q cairn.SignalQuery) *cairn.SignalPage {
	t.Helper()
	p, err := s.ListSignals(t.Context(), q)
	if err != nil {
		t.Fatalf("ListSignals(%+v): %v", q, err)
	}
	return p
}

// Signals come back as written, newest first, selected by version, model,
// or not at all, and by kind; ids increase.
func testSignalRoundTrip(t *testing.T, s cairn.Store) {
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "fraud", nil)
	a := createSignal(t, s, &cairn.Signal{Model: "churn", Version: 1, Kind: "drift", Value: 0.31, Detail: "PSI on tenure",
		Threshold: ptr(0.2), Flagged: true, CreatedBy: "monitor", CreatedAt: at(1)})
	b := createSignal(t, s, &cairn.Signal{Model: "churn", Version: 2, Kind: "error_rate", Value: -1.5e-7,
		CreatedBy: "monitor", CreatedAt: at(2)})
	c := createSignal(t, s, &cairn.Signal{Model: "churn", Version: 1, Kind: "error_rate", Value: 0.002,
		Threshold: ptr(0.01), CreatedBy: "bob", CreatedAt: at(3)})
	d := createSignal(t, s, &cairn.Signal{Model: "fraud", Version: 1, Kind: "drift", Value: 0,
		CreatedBy: "monitor", CreatedAt: at(4)})
	if !(a.ID > 0 && a.ID < b.ID && b.ID < c.ID && c.ID < d.ID) {
		t.Fatalf("ids %d %d %d %d: want increasing from 1", a.ID, b.ID, c.ID, d.ID)
	}
	for _, tc := range []struct {
		name string
		q    cairn.SignalQuery
		want []*cairn.Signal
	}{
		{"version", cairn.SignalQuery{Model: "churn", Version: 1}, []*cairn.Signal{c, a}},
		{"version and kind", cairn.SignalQuery{Model: "churn", Version: 1, Kind: "drift"}, []*cairn.Signal{a}},
		{"model", cairn.SignalQuery{Model: "churn"}, []*cairn.Signal{c, b, a}},
		{"all", cairn.SignalQuery{}, []*cairn.Signal{d, c, b, a}},
		{"all of a kind", cairn.SignalQuery{Kind: "drift"}, []*cairn.Signal{d, a}},
		{"none of a kind", cairn.SignalQuery{Model: "churn", Version: 2, Kind: "drift"}, []*cairn.Signal{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := listSignals(t, s, tc.q)
			if diff := cmp.Diff(tc.want, p.Items); diff != "" {
				t.Errorf("ListSignals (-want +got):\n%s", diff)
			}
			if p.NextToken != "" {
				t.Errorf("NextToken = %q on the only page", p.NextToken)
			}
		})
	}
	// Inside a transaction too.
	update(t, s, func(tx cairn.Tx) error {
		p := listSignals(t, tx, cairn.SignalQuery{Model: "fraud", Version: 1})
		if diff := cmp.Diff([]*cairn.Signal{d}, p.Items); diff != "" {
			t.Errorf("tx.ListSignals (-want +got):\n%s", diff)
		}
		return nil
	})
}

// Pages follow each other without gaps or repeats.
func testSignalPages(t *testing.T, s cairn.Store) {
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	var ids []int64
	for i := range 7 {
		sig := createSignal(t, s, &cairn.Signal{Model: "churn", Version: 1, Kind: "drift", Value: float64(i), CreatedBy: "m", CreatedAt: at(i)})
		ids = append([]int64{sig.ID}, ids...)
	}
	var got []int64
	q := cairn.SignalQuery{Model: "churn", Version: 1, Page: cairn.Page{Size: 3}}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		p := listSignals(t, s, q)
		for _, x := range p.Items {
			got = append(got, x.ID)
		}
		if p.NextToken == "" {
			break
		}
		q.Page.Token = p.NextToken
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
	_, err := s.ListSignals(t.Context(), cairn.SignalQuery{Page: cairn.Page{Token: "!!"}})
	wantCode(t, err, cairn.EINVALID)
}

// A signal needs an existing version; lists name what is missing.
func testSignalNotFound(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error {
		return tx.CreateSignal(ctx, &cairn.Signal{Model: "churn", Version: 2, Kind: "drift", CreatedBy: "m", CreatedAt: at(1)})
	}), cairn.ENOTFOUND)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error {
		return tx.CreateSignal(ctx, &cairn.Signal{Model: "nope", Version: 1, Kind: "drift", CreatedBy: "m", CreatedAt: at(1)})
	}), cairn.ENOTFOUND)
	_, err := s.ListSignals(ctx, cairn.SignalQuery{Model: "churn", Version: 2})
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.ListSignals(ctx, cairn.SignalQuery{Model: "nope"})
	wantCode(t, err, cairn.ENOTFOUND)
}

// ImportSignal keeps ids; signals created afterwards number after the
// highest imported; a taken id is ECONFLICT and leaves the transaction
// usable.
func testSignalImport(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	imported := &cairn.Signal{ID: 40, Model: "churn", Version: 1, Kind: "drift", Value: 0.5, Detail: "x",
		Threshold: ptr(0.3), Flagged: true, CreatedBy: "monitor", CreatedAt: at(1)}
	if err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportSignal(ctx, imported) }); err != nil {
		t.Fatal(err)
	}
	err := importing(t, s, func(tx cairn.Tx, imp cairn.Importer) error {
		dup := *imported
		wantCode(t, imp.ImportSignal(ctx, &dup), cairn.ECONFLICT)
		// The transaction goes on after the conflict.
		return tx.CreateSignal(ctx, &cairn.Signal{Model: "churn", Version: 1, Kind: "drift", Value: 1, CreatedBy: "m", CreatedAt: at(2)})
	})
	if err != nil {
		t.Fatal(err)
	}
	p := listSignals(t, s, cairn.SignalQuery{Model: "churn", Version: 1})
	if len(p.Items) != 2 || p.Items[0].ID <= 40 {
		t.Fatalf("after import: %+v; want a new signal numbered after 40 first", p.Items)
	}
	if diff := cmp.Diff(imported, p.Items[1]); diff != "" {
		t.Errorf("imported signal (-want +got):\n%s", diff)
	}
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		return imp.ImportSignal(ctx, &cairn.Signal{ID: 0, Model: "churn", Version: 1, Kind: "drift", CreatedBy: "m", CreatedAt: at(3)})
	})
	wantCode(t, err, cairn.EINVALID)
}
