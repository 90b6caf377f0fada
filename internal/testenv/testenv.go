// Package testenv gives tests the real services they run against
// (PostgreSQL, an S3-compatible server), as provisioned by scripts/test.sh.
// A test that needs a service which is not configured is skipped with a
// message naming what is missing, unless CAIRN_TEST_REQUIRE_SERVICES=1 or
// CI=true, in which case it fails: CI never skips a backend silently.
package testenv

import (
	"os"
	"testing"
)

// Missing skips or fails tb because service is not configured; hint says how
// to provide it.
func Missing(tb testing.TB, service, hint string) {
	tb.Helper()
	if os.Getenv("CAIRN_TEST_REQUIRE_SERVICES") == "1" || os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required but not configured: %s (run scripts/test.sh, which provisions it)", service, hint)
	}
	tb.Skipf("SKIPPED BACKEND %s: not configured (%s); run scripts/test.sh to test it", service, hint)
}
