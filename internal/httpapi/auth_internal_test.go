package httpapi

import (
	"testing"
	"time"
)

func TestLoginLimiterBuckets(t *testing.T) {
	l := newLoginLimiter(3, 10*time.Second)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if d := l.wait("1.1.1.1", "ann", t0); d != 0 {
			t.Fatalf("attempt %d: wait %v, want none", i+1, d)
		}
		l.fail("1.1.1.1", "ann", t0)
	}
	if d := l.wait("1.1.1.1", "ann", t0); d != 10*time.Second {
		t.Errorf("after the burst: wait %v, want 10s", d)
	}
	// The user's bucket holds from another address; the address's for
	// another user.
	if d := l.wait("2.2.2.2", "ann", t0); d == 0 {
		t.Error("ann from another IP is not limited")
	}
	if d := l.wait("1.1.1.1", "bob", t0); d == 0 {
		t.Error("bob from the same IP is not limited")
	}
	if d := l.wait("2.2.2.2", "bob", t0); d != 0 {
		t.Errorf("bob from another IP waits %v", d)
	}
	// Tokens come back at the refill rate.
	if d := l.wait("1.1.1.1", "ann", t0.Add(4*time.Second)); d != 6*time.Second {
		t.Errorf("4s later: wait %v, want 6s", d)
	}
	if d := l.wait("1.1.1.1", "ann", t0.Add(10*time.Second)); d != 0 {
		t.Errorf("10s later: wait %v, want none", d)
	}
	// Bearer attempts (no user name) count against the address only.
	l2 := newLoginLimiter(1, time.Minute)
	l2.fail("3.3.3.3", "", t0)
	if d := l2.wait("3.3.3.3", "", t0); d == 0 {
		t.Error("bearer failures do not limit the address")
	}
}

func TestCredentialsFrom(t *testing.T) {
	for _, tc := range []struct {
		h          string
		ok, bad    bool
		token, usr string
	}{
		{h: ""},
		{h: "Bearer abc", ok: true, token: "abc"},
		{h: "bearer abc", ok: true, token: "abc"},
		{h: "Basic YW5uOnB3", ok: true, usr: "ann"},
		{h: "Basic YW5uOnB3OmNvbG9u", ok: true, usr: "ann"}, // ann:pw:colon: the password holds a colon
		{h: "Basic OnB3", bad: true},                        // no user
		{h: "Basic bm9jb2xvbg", bad: true},                  // no colon
		{h: "Basic ***", bad: true},
		{h: "Bearer", bad: true},
		{h: "Negotiate abc", bad: true},
	} {
		c, ok, err := credentialsFrom(tc.h)
		if (err != nil) != tc.bad || ok != tc.ok || c.Token != tc.token || c.User != tc.usr {
			t.Errorf("credentialsFrom(%q) = %+v, %v, %v", tc.h, c, ok, err)
		}
	}
}
