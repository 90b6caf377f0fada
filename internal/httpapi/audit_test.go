package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// The audit log verifies through the API; a checkpoint signed by the
// server is listed and verifies with its public key; an entry edited in
// the database is named; only an admin may verify.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := apitest.New(t, apitest.Options{Registry: registry.Options{Auth: true, PasswordIterations: 1000, AuditKey: key}})
	ctx := t.Context()
	secret, err := e.Service.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin := as(e, secret)
	if _, err := admin.CreateModel(ctx, client.ModelCreate{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "bob", Kind: cairn.KindUser}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GrantRole(ctx, client.RoleGrant{Principal: "bob", Role: cairn.RoleMaintainer, Scope: "*"}); err != nil {
		t.Fatal(err)
	}
	bobTok, err := admin.CreateToken(ctx, "bob", client.TokenCreate{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := e.Service.Checkpoint(ctx, true)
	if err != nil || cp == nil {
		t.Fatalf("Checkpoint = %v, %v", cp, err)
	}
	rep, err := admin.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Problem != nil || rep.Entries < 4 || rep.Entries != rep.Head || rep.Checkpoints != 1 || rep.SignaturesChecked != 1 {
		t.Fatalf("VerifyAudit = %+v; want an intact log with one checkpoint", rep)
	}
	page, err := as(e, bobTok.Secret).ListAuditCheckpoints(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || !page.Items[0].Verify(key.Public().(ed25519.PublicKey)) || page.NextAfter != cp.Seq {
		t.Fatalf("ListAuditCheckpoints = %+v; want the one checkpoint, verifying", page)
	}
	// Not an admin: refused.
	_, err = as(e, bobTok.Secret).VerifyAudit(ctx)
	wantCode(t, err, cairn.EPERMISSION)

	raw, err := sql.Open("sqlite", e.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	rep, err = admin.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Problem == nil || rep.Problem.Seq != 2 || !strings.Contains(rep.Problem.Reason, "edited") {
		t.Fatalf("after editing entry 2, VerifyAudit = %+v, problem %+v", rep, rep.Problem)
	}
}

// Time travel: an alias resolves as of a time from its history, through
// resolve, the alias and the version endpoints.
func TestResolveAt(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	e := apitest.New(t, apitest.Options{Registry: registry.Options{Now: clk.now}})
	ctx := t.Context()
	t0 := clk.now()
	pushBytes(t, e, "churn", map[string]string{"m": "1"}, cairn.VersionSpec{})
	clk.add(time.Hour) // 10:00
	pushBytes(t, e, "churn", map[string]string{"m": "2"}, cairn.VersionSpec{})
	if _, err := e.Client.SetAlias(ctx, "churn", "production", 1, nil); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour) // 11:00
	if _, err := e.Client.SetAlias(ctx, "churn", "production", 2, nil); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour) // 12:00
	if err := e.Client.DeleteAlias(ctx, "churn", "production", nil); err != nil {
		t.Fatal(err)
	}
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	for _, tc := range []struct {
		name string
		ref  string
		at   time.Time
		want int64 // 0: not found
	}{
		{"before the alias existed", "churn@production", h(1).Add(-time.Microsecond), 0},
		{"at the first move", "churn@production", h(1), 1},
		{"between moves", "churn@production", h(1).Add(30 * time.Minute), 1},
		{"at the second move", "churn@production", h(2), 2},
		{"after deletion", "churn@production", h(3), 0},
		{"a version that existed", "churn@v2", h(1), 2},
		{"a version not yet created", "churn@v2", h(1).Add(-time.Second), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := e.Client.ResolveAt(ctx, tc.ref, tc.at)
			if tc.want == 0 {
				wantCode(t, err, cairn.ENOTFOUND)
				return
			}
			if err != nil || v.Number != tc.want {
				t.Fatalf("ResolveAt(%s, %v) = %v, %v; want v%d", tc.ref, tc.at, v, err, tc.want)
			}
		})
	}
	a, err := e.Client.GetAliasAt(ctx, "churn", "production", h(2).Add(time.Minute))
	if err != nil || a.Version != 2 || !a.UpdatedAt.Equal(h(2)) || a.UpdatedBy != "tester" {
		t.Fatalf("GetAliasAt = %+v, %v; want v2 moved at %v by tester", a, err, h(2))
	}
	_, err = e.Client.GetAliasAt(ctx, "churn", "production", h(4))
	wantCode(t, err, cairn.ENOTFOUND)
	// @latest has no history; a bad time is a 400.
	_, err = e.Client.ResolveAt(ctx, "churn@latest", h(2))
	wantCode(t, err, cairn.EINVALID)
	resp, _ := raw(t, e, "GET", "/api/v1/resolve/churn@production?at=yesterday", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("at=yesterday: status %d, want 400", resp.StatusCode)
	}
	resp, _ = raw(t, e, "GET", "/api/v1/models/churn/versions/2?at="+h(1).Add(-time.Second).Format(time.RFC3339), "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("version 2 before it was created: status %d, want 404", resp.StatusCode)
	}
}
