package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var authTests = []test{
	{"Users", testUsers},
	{"UserPages", testUserPages},
	{"Tokens", testTokens},
	{"TokenTouch", testTokenTouch},
	{"RoleBindings", testRoleBindings},
	{"DeleteUserCascades", testDeleteUserCascades},
	{"ScopedModels", testScopedModels},
	{"ScopedVersions", testScopedVersions},
	{"BlobInScopes", testBlobInScopes},
}

func newUser(name string) *cairn.User {
	return &cairn.User{
		Name: name, Kind: cairn.KindUser, PasswordHash: "pbkdf2-sha256$1$c2FsdA$aGFzaA", HasPassword: true,
		CreatedBy: "root", CreatedAt: at(1), UpdatedAt: at(1), Roles: []cairn.RoleBinding{},
	}
}

func createUser(t testing.TB, s cairn.Store, name string) *cairn.User {
	t.Helper()
	u := newUser(name)
	update(t, s, func(tx cairn.Tx) error { return tx.CreateUser(t.Context(), u) })
	return u
}

func grant(t testing.TB, s cairn.Store, who string, role cairn.Role, scope string) cairn.RoleBinding {
	t.Helper()
	b := cairn.RoleBinding{Principal: who, Role: role, Scope: scope, CreatedBy: "root", CreatedAt: at(2)}
	update(t, s, func(tx cairn.Tx) error { return tx.GrantRole(t.Context(), &b) })
	return b
}

func testUsers(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	u := createUser(t, s, "alice")
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("GetUser (-want +got):\n%s", diff)
	}
	svc := newUser("ci-bot")
	svc.Kind, svc.PasswordHash, svc.HasPassword = cairn.KindService, "", false
	update(t, s, func(tx cairn.Tx) error { return tx.CreateUser(ctx, svc) })
	if got, err := s.GetUser(ctx, "ci-bot"); err != nil || got.Kind != cairn.KindService || got.HasPassword {
		t.Errorf("GetUser(ci-bot) = %+v, %v; want a service account without a password", got, err)
	}

	// A conflict leaves the transaction usable (PostgreSQL aborts a
	// transaction on a constraint violation unless the store avoids it).
	update(t, s, func(tx cairn.Tx) error {
		wantCode(t, tx.CreateUser(ctx, newUser("alice")), cairn.ECONFLICT)
		return tx.CreateUser(ctx, newUser("bob"))
	})
	if _, err := s.GetUser(ctx, "bob"); err != nil {
		t.Errorf("bob, created after a conflict in the same transaction: %v", err)
	}

	u.PasswordHash, u.HasPassword, u.Disabled, u.UpdatedAt = "", false, true, at(9)
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateUser(ctx, u) })
	got, err = s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("after UpdateUser (-want +got):\n%s", diff)
	}
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateUser(ctx, newUser("nobody")) })
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.GetUser(ctx, "nobody")
	wantCode(t, err, cairn.ENOTFOUND)
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteUser(ctx, "nobody") })
	wantCode(t, err, cairn.ENOTFOUND)
}

func testUserPages(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("user%02d", 6-i)
		createUser(t, s, name)
		want = append(want, name)
	}
	slices.Sort(want)
	grant(t, s, "user03", cairn.RoleWriter, "fraud-*")
	grant(t, s, "user03", cairn.RoleReader, "*")
	var got []string
	token := ""
	for pages := 1; ; pages++ {
		p, err := s.ListUsers(ctx, cairn.Page{Size: 3, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 3 {
			t.Fatalf("page of %d users, asked for 3", len(p.Items))
		}
		for _, u := range p.Items {
			got = append(got, u.Name)
			wantRoles := 0
			if u.Name == "user03" {
				wantRoles = 2
			}
			if len(u.Roles) != wantRoles {
				t.Errorf("%s listed with roles %v, want %d", u.Name, u.Roles, wantRoles)
			}
		}
		if token = p.NextToken; token == "" {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users listed (-want +got):\n%s", diff)
	}
}

func newToken(id, user, secretHash string) *cairn.Token {
	return &cairn.Token{ID: id, User: user, Name: "ci " + id, Hash: secretHash, CreatedBy: "root", CreatedAt: at(3)}
}

func testTokens(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createUser(t, s, "alice")
	createUser(t, s, "bob")
	t1 := newToken("t1", "alice", "hash1")
	t1.ExpiresAt = ptr(at(100))
	t2 := newToken("t2", "alice", "hash2")
	t2.CreatedAt = at(4)
	t3 := newToken("t3", "bob", "hash3")
	t3.LastUsedAt, t3.RevokedAt = ptr(at(5)), ptr(at(6)) // as a migration copies it
	update(t, s, func(tx cairn.Tx) error {
		for _, tk := range []*cairn.Token{t1, t2, t3} {
			if err := tx.CreateToken(ctx, tk); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.GetTokenByHash(ctx, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(t1, got); diff != "" {
		t.Errorf("GetTokenByHash (-want +got):\n%s", diff)
	}
	_, err = s.GetTokenByHash(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)

	update(t, s, func(tx cairn.Tx) error {
		wantCode(t, tx.CreateToken(ctx, newToken("t1", "alice", "other")), cairn.ECONFLICT)
		wantCode(t, tx.CreateToken(ctx, newToken("t9", "alice", "hash2")), cairn.ECONFLICT)
		wantCode(t, tx.CreateToken(ctx, newToken("t8", "nobody", "hash8")), cairn.ENOTFOUND)
		return tx.CreateToken(ctx, newToken("t4", "bob", "hash4")) // the transaction is still usable
	})

	list, err := s.ListTokens(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Token{t1, t2}, list); diff != "" {
		t.Errorf("ListTokens(alice) (-want +got):\n%s", diff)
	}
	all, err := s.ListTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range all {
		ids = append(ids, tk.ID)
	}
	if diff := cmp.Diff([]string{"t1", "t3", "t4", "t2"}, ids); diff != "" {
		t.Errorf("ListTokens(\"\") ids (-want +got):\n%s", diff)
	}

	update(t, s, func(tx cairn.Tx) error { return tx.RevokeToken(ctx, "alice", "t2", at(10)) })
	update(t, s, func(tx cairn.Tx) error { return tx.RevokeToken(ctx, "alice", "t2", at(20)) })
	got, err = s.GetTokenByHash(ctx, "hash2")
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at(10)) {
		t.Errorf("revoked at %v, want the first revocation %v", got.RevokedAt, at(10))
	}
	if got.Active(at(11)) {
		t.Error("a revoked token is active")
	}
	// Another user's token, and an unknown one, are not found.
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.RevokeToken(ctx, "alice", "t3", at(10)) })
	wantCode(t, err, cairn.ENOTFOUND)
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.RevokeToken(ctx, "alice", "t0", at(10)) })
	wantCode(t, err, cairn.ENOTFOUND)
	if t3b, _ := s.GetTokenByHash(ctx, "hash3"); t3b == nil || !t3b.RevokedAt.Equal(at(6)) {
		t.Errorf("bob's token changed: %+v", t3b)
	}
}

func testTokenTouch(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createUser(t, s, "alice")
	update(t, s, func(tx cairn.Tx) error { return tx.CreateToken(ctx, newToken("t1", "alice", "h")) })
	lastUsed := func() *time.Time {
		tk, err := s.GetTokenByHash(ctx, "h")
		if err != nil {
			t.Fatal(err)
		}
		return tk.LastUsedAt
	}
	touch := func(i int) {
		update(t, s, func(tx cairn.Tx) error { return tx.TouchToken(ctx, "t1", at(i), time.Minute) })
	}
	touch(10)
	if lu := lastUsed(); lu == nil || !lu.Equal(at(10)) {
		t.Fatalf("last used %v after the first use, want %v", lu, at(10))
	}
	touch(30) // within the minute: not written
	if lu := lastUsed(); !lu.Equal(at(10)) {
		t.Errorf("last used %v after a use 20s later, want it kept at %v", lu, at(10))
	}
	touch(70)
	if lu := lastUsed(); !lu.Equal(at(70)) {
		t.Errorf("last used %v after a use a minute later, want %v", lu, at(70))
	}
	touch(5) // older than what is recorded: never moves back
	if lu := lastUsed(); !lu.Equal(at(70)) {
		t.Errorf("last used %v after an older use, want %v", lu, at(70))
	}
	update(t, s, func(tx cairn.Tx) error { return tx.TouchToken(ctx, "unknown", at(80), time.Minute) })
}

func testRoleBindings(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createUser(t, s, "alice")
	createUser(t, s, "bob")
	b1 := grant(t, s, "bob", cairn.RoleWriter, "fraud-*")
	b2 := grant(t, s, "alice", cairn.RoleReader, "*")
	b3 := grant(t, s, "alice", cairn.RoleAdmin, "*")
	b4 := grant(t, s, "alice", cairn.RoleApprover, "churn")
	update(t, s, func(tx cairn.Tx) error {
		wantCode(t, tx.GrantRole(ctx, &cairn.RoleBinding{Principal: "bob", Role: cairn.RoleWriter, Scope: "fraud-*", CreatedBy: "x", CreatedAt: at(5)}), cairn.ECONFLICT)
		wantCode(t, tx.GrantRole(ctx, &cairn.RoleBinding{Principal: "nobody", Role: cairn.RoleWriter, Scope: "*", CreatedBy: "x", CreatedAt: at(5)}), cairn.ENOTFOUND)
		return tx.GrantRole(ctx, &cairn.RoleBinding{Principal: "bob", Role: cairn.RoleReader, Scope: "*", CreatedBy: "root", CreatedAt: at(2)})
	})
	b5 := cairn.RoleBinding{Principal: "bob", Role: cairn.RoleReader, Scope: "*", CreatedBy: "root", CreatedAt: at(2)}
	all, err := s.ListRoleBindings(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// Ordered by principal, role, scope.
	if diff := cmp.Diff([]cairn.RoleBinding{b3, b4, b2, b5, b1}, all); diff != "" {
		t.Errorf("ListRoleBindings(\"\") (-want +got):\n%s", diff)
	}
	bob, err := s.ListRoleBindings(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]cairn.RoleBinding{b5, b1}, bob); diff != "" {
		t.Errorf("ListRoleBindings(bob) (-want +got):\n%s", diff)
	}
	u, err := s.GetUser(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bob, u.Roles); diff != "" {
		t.Errorf("GetUser(bob).Roles (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error { return tx.RevokeRole(ctx, "bob", cairn.RoleWriter, "fraud-*") })
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.RevokeRole(ctx, "bob", cairn.RoleWriter, "fraud-*") })
	wantCode(t, err, cairn.ENOTFOUND)
	if bob, _ := s.ListRoleBindings(ctx, "bob"); len(bob) != 1 {
		t.Errorf("bob's bindings after a revoke: %v", bob)
	}
}

func testDeleteUserCascades(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createUser(t, s, "alice")
	createUser(t, s, "bob")
	grant(t, s, "alice", cairn.RoleAdmin, "*")
	grant(t, s, "bob", cairn.RoleReader, "*")
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.CreateToken(ctx, newToken("a", "alice", "ha")); err != nil {
			return err
		}
		return tx.CreateToken(ctx, newToken("b", "bob", "hb"))
	})
	update(t, s, func(tx cairn.Tx) error { return tx.DeleteUser(ctx, "alice") })
	_, err := s.GetTokenByHash(ctx, "ha")
	wantCode(t, err, cairn.ENOTFOUND)
	if bs, _ := s.ListRoleBindings(ctx, ""); len(bs) != 1 || bs[0].Principal != "bob" {
		t.Errorf("bindings after deleting alice: %v", bs)
	}
	if _, err := s.GetTokenByHash(ctx, "hb"); err != nil {
		t.Errorf("bob's token after deleting alice: %v", err)
	}
	// The name may be used again, without the old grants.
	createUser(t, s, "alice")
	if u, _ := s.GetUser(ctx, "alice"); u == nil || len(u.Roles) != 0 {
		t.Errorf("a re-created alice inherits %v", u)
	}
}

// scopeFixture creates models whose names exercise the glob translation:
// LIKE's own wildcards (% and _) and GLOB's (? and [) must match only
// themselves, and matching is case-sensitive.
var scopeModels = []string{"Fraud-a", "churn", "fraud-%", "fraud-1", "fraud-2", "fraud-x", "fraud_y", "fraudy", "x-fraud-?", "x-fraud-[a]"}

func scopeFixture(t testing.TB, s cairn.Store) {
	for _, n := range scopeModels {
		createModel(t, s, n, cairn.KindModel)
		createVersion(t, s, n, nil)
		createVersion(t, s, n, nil)
	}
}

var scopeCases = []struct {
	scopes []string
	want   []string
}{
	{nil, scopeModels},
	{[]string{}, []string{}},
	{[]string{"*"}, scopeModels},
	{[]string{"fraud-*"}, []string{"fraud-%", "fraud-1", "fraud-2", "fraud-x"}},
	{[]string{"fraud_*"}, []string{"fraud_y"}},
	{[]string{"fraud-%"}, []string{"fraud-%"}},
	{[]string{"churn"}, []string{"churn"}},
	{[]string{"chur"}, []string{}},
	{[]string{"*-?"}, []string{"x-fraud-?"}},
	{[]string{"*[a]"}, []string{"x-fraud-[a]"}},
	{[]string{"f*-*"}, []string{"fraud-%", "fraud-1", "fraud-2", "fraud-x"}},
	{[]string{"churn", "fraud-x", "nomatch-*"}, []string{"churn", "fraud-x"}},
	{[]string{"fraud-1", "*"}, scopeModels},
}

func testScopedModels(t *testing.T, s cairn.Store) {
	scopeFixture(t, s)
	for _, c := range scopeCases {
		for _, size := range []int{0, 1, 2} {
			got := listAllModels(t, s, cairn.ModelQuery{Scopes: c.scopes, Page: cairn.Page{Size: size}})
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ListModels(scopes %q, page size %d) (-want +got):\n%s", c.scopes, size, diff)
			}
		}
	}
	// With a filter: both hold.
	got := listAllModels(t, s, cairn.ModelQuery{Scopes: []string{"fraud-*"}, Filter: parseFilter(t, "name LIKE '%x' OR name = 'churn'")})
	if diff := cmp.Diff([]string{"fraud-x"}, got); diff != "" {
		t.Errorf("ListModels(scope fraud-*, filter) (-want +got):\n%s", diff)
	}
}

func testScopedVersions(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	scopeFixture(t, s)
	refs := func(q cairn.VersionQuery) []string {
		out := []string{}
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("ListVersions never ends")
			}
			p, err := s.ListVersions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range p.Items {
				out = append(out, v.Ref())
			}
			if q.Page.Token = p.NextToken; q.Page.Token == "" {
				return out
			}
		}
	}
	for _, c := range scopeCases {
		want := []string{}
		for _, n := range c.want {
			want = append(want, n+"@v2", n+"@v1")
		}
		for _, size := range []int{0, 3} {
			got := refs(cairn.VersionQuery{Scopes: c.scopes, Page: cairn.Page{Size: size}})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListVersions(scopes %q, page size %d) (-want +got):\n%s", c.scopes, size, diff)
			}
		}
	}
	got := refs(cairn.VersionQuery{Model: "fraud-1", Scopes: []string{"fraud-*"}, Filter: parseFilter(t, "version = 1")})
	if diff := cmp.Diff([]string{"fraud-1@v1"}, got); diff != "" {
		t.Errorf("ListVersions(fraud-1, scope fraud-*, version = 1) (-want +got):\n%s", diff)
	}
	got = refs(cairn.VersionQuery{Model: "churn", Scopes: []string{"fraud-*"}})
	if len(got) != 0 {
		t.Errorf("ListVersions(churn, scope fraud-*) = %v, want none", got)
	}
}

func testBlobInScopes(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	for _, n := range []string{"fraud-1", "churn", "gone"} {
		createModel(t, s, n, cairn.KindModel)
	}
	f1 := createVersion(t, s, "fraud-1", nil)
	ch := createVersion(t, s, "churn", nil)
	gone := createVersion(t, s, "gone", nil)
	m := newModel("gone")
	m.DeletedAt, m.UpdatedAt = ptr(at(9)), at(9)
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateModel(ctx, m) })
	for _, tc := range []struct {
		d      cairn.Digest
		scopes []string
		want   bool
	}{
		{f1.Files[0].Digest, nil, true},
		{f1.Files[1].Digest, []string{"fraud-*"}, true},
		{f1.Digest, []string{"fraud-*"}, true}, // the manifest digest counts too
		{f1.Files[0].Digest, []string{"churn"}, false},
		{f1.Files[0].Digest, []string{"churn", "fraud-1"}, true},
		{ch.Files[0].Digest, []string{"fraud-*"}, false},
		{ch.Files[0].Digest, []string{"*"}, true},
		{f1.Files[0].Digest, []string{}, false},
		{gone.Files[0].Digest, nil, false}, // only a deleted model refers to it
		{cairn.DigestOf([]byte("nobody's")), nil, false},
	} {
		got, err := s.BlobInScopes(ctx, tc.d, tc.scopes)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("BlobInScopes(%s, %q) = %v, want %v", tc.d, tc.scopes, got, tc.want)
		}
	}
	// A rename keeps the pairs: the model's row id does not change.
	update(t, s, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "fraud-1", "legacy-1", at(10)) })
	if ok, _ := s.BlobInScopes(ctx, f1.Files[0].Digest, []string{"legacy-*"}); !ok {
		t.Error("after a rename the blob is not found under the new name")
	}
	if ok, _ := s.BlobInScopes(ctx, f1.Files[0].Digest, []string{"fraud-*"}); ok {
		t.Error("after a rename the blob is still found under the old name")
	}
}
