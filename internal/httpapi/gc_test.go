package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// POST /api/v1/gc through the client: a dry run by default, deletion when
// asked, the grace period honoured, bad graces refused, and a collection
// running elsewhere answered with conflict.
func TestGC(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := apitest.New(t, apitest.Options{Registry: registry.Options{Now: now}})
	ctx := context.Background()

	kept := []byte("referenced weights")
	keptDigest := cairn.DigestOf(kept)
	res, err := e.Client.CreateVersion(ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "w", Size: int64(len(kept)), Digest: keptDigest}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Client.PutBlob(ctx, keptDigest, int64(len(kept)), bytes.NewReader(kept)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.FinalizeVersion(ctx, "churn", res.Version.Number, nil); err != nil {
		t.Fatal(err)
	}
	orphan := []byte("nobody uses me")
	orphanDigest := cairn.DigestOf(orphan)
	if err := e.Client.PutBlob(ctx, orphanDigest, int64(len(orphan)), bytes.NewReader(orphan)); err != nil {
		t.Fatal(err)
	}
	exists := func(d cairn.Digest) bool {
		_, err := e.Blobs.Stat(ctx, d)
		return err == nil
	}

	// Young: nothing to collect.
	rep, err := e.Client.GC(ctx, client.GCOptions{Delete: true, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Young != 1 || rep.Referenced != 1 || rep.Deleted != 0 || rep.Grace != "1h0m0s" {
		t.Errorf("young orphan: %+v", rep)
	}

	mu.Lock()
	clock = clock.Add(48 * time.Hour)
	mu.Unlock()
	rep, err = e.Client.GC(ctx, client.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.Candidates != 1 || rep.BytesFreeable != int64(len(orphan)) || rep.Deleted != 0 || len(rep.Digests) != 1 || rep.Digests[0] != orphanDigest {
		t.Errorf("default (dry run): %+v", rep)
	}
	if !exists(orphanDigest) {
		t.Fatal("the dry run deleted the orphan")
	}
	// An empty body is a dry run too.
	resp, body := raw(t, e, "POST", "/api/v1/gc", "")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"dry_run":true`)) {
		t.Errorf("POST /api/v1/gc without a body: %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{`{"grace":"soon"}`, `{"grace":"-1h"}`, `{"grace":"0s"}`, `{"dry_run":"yes"}`, `{"delete":true}`} {
		resp, body := raw(t, e, "POST", "/api/v1/gc", bad)
		wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	}
	if !exists(orphanDigest) {
		t.Fatal("a refused request deleted the orphan")
	}

	rep, err = e.Client.GC(ctx, client.GCOptions{Delete: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.DryRun || rep.Deleted != 1 || rep.BytesFreed != int64(len(orphan)) || exists(orphanDigest) || !exists(keptDigest) {
		t.Errorf("delete: %+v; orphan exists %v, referenced blob exists %v", rep, exists(orphanDigest), exists(keptDigest))
	}

	// Another replica's collection holds the lease.
	err = e.Store.Update(ctx, func(tx cairn.Tx) error {
		_, err := tx.AcquireLease(ctx, "gc", "elsewhere", now(), now().Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.GC(ctx, client.GCOptions{}); !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Errorf("GC while another runs = %v, want conflict", err)
	}
}
