// Package storetest is the conformance suite every cairn.Store passes. It
// holds the metadata store's real behaviour, written against the contract
// in store.go only, so that SQLite and PostgreSQL behave alike. A store's
// own test file is a few lines:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) cairn.Store { return openEmptyStore(t) })
//	}
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

// Run runs the suite. open must return a new, empty store for each call;
// Run closes it when the subtest that opened it ends. Subtests run in
// parallel, so open may be called concurrently.
func Run(t *testing.T, open func(t testing.TB) cairn.Store) {
	for _, g := range []struct {
		name  string
		tests []test
	}{
		{"Update", updateTests},
		{"Model", modelTests},
		{"Version", versionTests},
		{"Alias", aliasTests},
		{"Run", runTests},
		{"Experiment", experimentTests},
		{"LoggedModel", loggedModelTests},
		{"Lineage", lineageTests},
		{"Audit", auditTests},
		{"TimeTravel", timeTravelTests},
		{"Event", eventTests},
		{"Upload", uploadTests},
		{"Idempotency", idempotencyTests},
		{"Concurrency", concurrencyTests},
		{"Filter", filterTests},
		{"Import", importTests},
		{"GC", gcTests},
		{"Webhook", webhookTests},
		{"Auth", authTests},
		{"Artifact", artifactTests},
		{"Signal", signalTests},
		{"Policy", policyTests},
		{"Approval", approvalTests},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

// test is one subtest of the suite; it gets a fresh, empty store.
type test struct {
	name string
	fn   func(t *testing.T, s cairn.Store)
}

// base is the suite's clock: every time it writes is base plus whole
// seconds, at microsecond precision, so what is written equals what is
// read back.
var base = time.Date(2024, 3, 1, 12, 0, 0, 123456000, time.UTC)

// at returns base plus i seconds.
func at(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }

func ptr[T any](v T) *T { return &v }

// update runs fn in a transaction and fails the test if it fails.
func update(t testing.TB, s cairn.Store, fn func(tx cairn.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, err error, code cairn.ErrorCode) {
	t.Helper()
	if got := cairn.ErrorCodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	var e *cairn.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *cairn.Error", err)
	}
}

// newModel returns a model record with every writable field set.
func newModel(name string) *cairn.Model {
	return &cairn.Model{
		Name:        name,
		Kind:        cairn.KindModel,
		Description: "The " + name + " model.",
		Tags:        map[string]string{"team": "fraud"},
		CreatedBy:   "alice",
		CreatedAt:   at(0),
		UpdatedAt:   at(0),
	}
}

// createModel creates a model of the given name and kind.
func createModel(t testing.TB, s cairn.Store, name string, kind cairn.Kind) *cairn.Model {
	t.Helper()
	m := newModel(name)
	m.Kind = kind
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(t.Context(), m) })
	return m
}

// testFiles returns a two-file manifest whose digests depend on seed.
func testFiles(seed string) []cairn.File {
	files := []cairn.File{
		{Path: "model.pkl", Size: int64(len(seed) + 10), Digest: cairn.DigestOf([]byte("weights " + seed))},
		{Path: "requirements.txt", Size: 12, Digest: cairn.DigestOf([]byte("numpy " + seed))},
	}
	return files
}

// newVersion returns a ready version record of model with the given
// number; the caller allocates the number.
func newVersion(model string, kind cairn.Kind, n int64) *cairn.Version {
	files := testFiles(fmt.Sprintf("%s-%d", model, n))
	return &cairn.Version{
		Model:       model,
		Number:      n,
		Kind:        kind,
		Files:       files,
		Digest:      cairn.ManifestDigest(files),
		Size:        cairn.TotalSize(files),
		Metrics:     map[string]float64{},
		Params:      map[string]string{},
		DerivedFrom: []string{},
		Inputs:      []string{},
		CreatedBy:   "alice",
		CreatedAt:   at(int(n)),
		UpdatedAt:   at(int(n)),
		Tags:        map[string]string{},
		Aliases:     []string{},
		Status:      cairn.StatusReady,
		Stage:       cairn.StageNone,
	}
}

// createVersion allocates the next number of model and creates a version
// with it, after mutate (if not nil) has adjusted the record. It returns
// the record as the store should return it.
func createVersion(t testing.TB, s cairn.Store, model string, mutate func(*cairn.Version)) *cairn.Version {
	t.Helper()
	var v *cairn.Version
	update(t, s, func(tx cairn.Tx) error {
		m, err := tx.LockModel(t.Context(), model)
		if err != nil {
			return err
		}
		n, err := tx.AllocateVersion(t.Context(), model)
		if err != nil {
			return err
		}
		v = newVersion(model, m.Kind, n)
		if mutate != nil {
			mutate(v)
		}
		return tx.CreateVersion(t.Context(), v)
	})
	return v
}

// moveAlias moves model@alias from one version to another (0: none).
func moveAlias(t testing.TB, s cairn.Store, model, alias string, from, to int64, when time.Time) *cairn.AliasMove {
	t.Helper()
	m := &cairn.AliasMove{Model: model, Alias: alias, From: from, To: to, Actor: "carol", At: when, RequestID: "req-" + alias}
	update(t, s, func(tx cairn.Tx) error { return tx.MoveAlias(t.Context(), m) })
	return m
}

// requireAllFieldsSet fails the test if a field of the struct *p is the
// zero value, so that a round-trip test notices a field added to the
// domain type but not to its fixture.
func requireAllFieldsSet(t testing.TB, p any) {
	t.Helper()
	v := reflect.ValueOf(p).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("fixture %s leaves %s unset: set it so the round trip covers it", v.Type().Name(), v.Type().Field(i).Name)
		}
	}
}

// wantAfterUpdate checks that changed differs from orig in every field but
// those in skip (so the test really tries to write each one), and returns
// what a store must read back after the update: orig with only the fields
// in mutable taken from changed.
func wantAfterUpdate[T any](t testing.TB, orig, changed *T, mutable, skip []string) *T {
	t.Helper()
	in := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	want := new(T)
	*want = *orig
	ov, cv, wv := reflect.ValueOf(orig).Elem(), reflect.ValueOf(changed).Elem(), reflect.ValueOf(want).Elem()
	for i := 0; i < ov.NumField(); i++ {
		name := ov.Type().Field(i).Name
		if in(skip, name) {
			continue
		}
		if reflect.DeepEqual(ov.Field(i).Interface(), cv.Field(i).Interface()) {
			t.Fatalf("test does not change %s: change every field so the test proves which are written", name)
		}
		if in(mutable, name) {
			wv.Field(i).Set(cv.Field(i))
		}
	}
	return want
}
