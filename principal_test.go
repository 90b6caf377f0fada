package cairn

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRoleGrants(t *testing.T) {
	// need → the roles that grant it
	want := map[Role][]Role{
		RoleReader:     {RoleReader, RoleWriter, RoleMaintainer, RoleAdmin, RoleApprover},
		RoleWriter:     {RoleWriter, RoleMaintainer, RoleAdmin},
		RoleMaintainer: {RoleMaintainer, RoleAdmin},
		RoleAdmin:      {RoleAdmin},
		RoleApprover:   {RoleApprover, RoleAdmin},
	}
	for need, granted := range want {
		for _, have := range Roles {
			g := false
			for _, r := range granted {
				g = g || r == have
			}
			if have.Grants(need) != g {
				t.Errorf("%s.Grants(%s) = %v, want %v", have, need, !g, g)
			}
		}
		if Role("root").Grants(need) {
			t.Errorf("an unknown role grants %s", need)
		}
	}
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%s) = %v, %v", r, got, err)
		}
	}
	if _, err := ParseRole("Admin"); !IsCode(err, EINVALID) {
		t.Errorf("ParseRole(Admin) = %v, want invalid", err)
	}
}

func TestScopeMatches(t *testing.T) {
	for _, tc := range []struct {
		scope, name string
		want        bool
	}{
		{"*", "anything", true},
		{"churn", "churn", true},
		{"churn", "churner", false},
		{"fraud-*", "fraud-", true},
		{"fraud-*", "fraud-x", true},
		{"fraud-*", "Fraud-x", false},
		{"fraud-*", "xfraud-x", false},
		{"*-prod", "a-prod", true},
		{"*-prod", "a-prod-b", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "a-b-c", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"f_%", "f_%", true},
		{"f_%", "fx%", false},
		{"?", "x", false},
	} {
		if got := ScopeMatches(tc.scope, tc.name); got != tc.want {
			t.Errorf("ScopeMatches(%q, %q) = %v, want %v", tc.scope, tc.name, got, tc.want)
		}
	}
}

// FuzzScopeMatches checks ScopeMatches against an anchored regular
// expression in which * is .* and everything else is literal.
func FuzzScopeMatches(f *testing.F) {
	for _, s := range [][2]string{{"fraud-*", "fraud-1"}, {"a*b*c", "aXbYc"}, {"*", ""}, {"a*a", "a"}, {"*x*", "yxy"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, scope, name string) {
		parts := strings.Split(scope, "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re, err := regexp.Compile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
		if err != nil {
			t.Skip()
		}
		if got, want := ScopeMatches(scope, name), re.MatchString(name); got != want {
			t.Fatalf("ScopeMatches(%q, %q) = %v, regexp says %v", scope, name, got, want)
		}
	})
}

func TestScopeFilter(t *testing.T) {
	if ScopeFilter(nil) != nil || ScopeFilter([]string{"a", "*"}) != nil {
		t.Error("ScopeFilter with no scope or with * is not nil")
	}
	f := ScopeFilter([]string{"fr_%\\*", "churn"})
	or, ok := f.Root.(*OrExpr)
	if !ok {
		t.Fatalf("root %T, want OR", f.Root)
	}
	l, r := or.L.(*CmpExpr), or.R.(*CmpExpr)
	if l.Op != "LIKE" || l.Value.Str != `fr\_\%\\%` || r.Value.Str != "churn" || l.Field.Name != "name" {
		t.Errorf("patterns %q and %q", l.Value.Str, r.Value.Str)
	}
	if AndFilters(nil, f) != f || AndFilters(f, nil) != f {
		t.Error("AndFilters with nil is not the other filter")
	}
}

func TestValidateScopeAndUserName(t *testing.T) {
	for _, s := range []string{"*", "fraud-*", "*-prod", "churn", "a*b"} {
		if err := ValidateScope(s); err != nil {
			t.Errorf("ValidateScope(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "a/b", "a:b", "x\x00", strings.Repeat("x", 257)} {
		if err := ValidateScope(s); !IsCode(err, EINVALID) {
			t.Errorf("ValidateScope(%q) = %v, want invalid", s, err)
		}
	}
	for _, s := range []string{"alice", "ci-bot", "a.b@example.com", "x_1"} {
		if err := ValidateUserName(s); err != nil {
			t.Errorf("ValidateUserName(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "-x", ".x", "a b", "a:b", "é", strings.Repeat("x", 129)} {
		if err := ValidateUserName(s); !IsCode(err, EINVALID) {
			t.Errorf("ValidateUserName(%q) = %v, want invalid", s, err)
		}
	}
}

func TestPasswords(t *testing.T) {
	if _, err := HashPassword("short", 1000); !IsCode(err, EINVALID) {
		t.Errorf("short password: %v", err)
	}
	h, err := HashPassword("correct horse battery", 1000)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse battery", 1000)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") || strings.Contains(h, "horse") {
		t.Errorf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "correct horse batterz") || CheckPassword(h, "") {
		t.Error("CheckPassword accepts the wrong password or refuses the right one")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$c2FsdA$aGFzaA", "pbkdf2-sha1$1$c2FsdA$aGFzaA", "pbkdf2-sha256$1$!!$aGFzaA", "pbkdf2-sha256$1$c2FsdA$"} {
		if CheckPassword(bad, "anything at all") {
			t.Errorf("CheckPassword(%q) matched", bad)
		}
	}
	if d, _ := HashPassword("correct horse battery", 0); !strings.HasPrefix(d, "pbkdf2-sha256$600000$") {
		t.Errorf("default iterations: %q", d)
	}
}

func TestTokens(t *testing.T) {
	s1, id1 := NewTokenSecret()
	s2, id2 := NewTokenSecret()
	if s1 == s2 || id1 == id2 || !regexp.MustCompile(`^cairn_[A-Za-z0-9_-]{43}$`).MatchString(s1) || len(id1) != 16 {
		t.Errorf("tokens %q %q ids %q %q", s1, s2, id1, id2)
	}
	if HashToken(s1) == HashToken(s2) || len(HashToken(s1)) != 64 {
		t.Error("token hashes")
	}
	now := time.Now()
	past, future := now.Add(-time.Second), now.Add(time.Second)
	for _, tc := range []struct {
		tk   Token
		want bool
	}{
		{Token{}, true},
		{Token{ExpiresAt: &future}, true},
		{Token{ExpiresAt: &past}, false},
		{Token{ExpiresAt: &now}, false},
		{Token{RevokedAt: &past}, false},
	} {
		if got := tc.tk.Active(now); got != tc.want {
			t.Errorf("Active(%+v) = %v", tc.tk, got)
		}
	}
}
