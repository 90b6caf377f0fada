#!/usr/bin/env bash
# Runs Cairn's whole test suite against real services: it provisions a
# throwaway PostgreSQL cluster and an S3-compatible server (versitygw) on
# 127.0.0.1, points the tests at them, runs every Go test, the fuzz targets
# for a few seconds each, and tears everything down. It also checks that
# the committed web UI build matches web/ and installs Chromium for the
# browser tests (scripts/lib/ui.sh). It fails loudly when a
# service cannot be started; it never skips one silently.
#
#   scripts/test.sh            # everything
#   scripts/test.sh ./internal/sqlite/...   # only these packages (services still provisioned)
#
# The whole run also tests the Python client (python/) on Debian's python3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export CAIRN_TEST_REQUIRE_SERVICES=1   # a skipped backend is a failure
work=$(mktemp -d /tmp/cairn-test.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${PGBIN:-}" ] && [ -d "$work/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

die() { echo "scripts/test.sh: $*" >&2; exit 1; }

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 15000 + RANDOM % 15000 ))  # below the ephemeral range (32768+)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# wait_port waits until something accepts connections on 127.0.0.1:$1, or
# until $2 seconds have passed.
wait_port() {
  local deadline=$(( $(date +%s) + ${2:-30} ))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

. "$root/scripts/lib/postgres.sh"
. "$root/scripts/lib/s3.sh"
. "$root/scripts/lib/ui.sh"
. "$root/scripts/lib/python.sh"

start_postgres
start_s3

pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)

# The web UI: its committed build must match its sources, and its browser
# tests need Chromium. Both only when the UI's package is among those run.
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q 'webui\|^\./\.\.\.$'; then
  check_ui_build
  start_chromium
  # Screenshots of the browser tests, kept after the run (printed below).
  export CAIRN_TEST_ARTIFACTS=${CAIRN_TEST_ARTIFACTS:-$(mktemp -d /tmp/cairn-ui-artifacts.XXXXXX)}
  echo "   browser test screenshots go to $CAIRN_TEST_ARTIFACTS"
fi

echo "== go vet"
go vet "${pkgs[@]}"
echo "== go test"
go test -count=1 -timeout 30m "${pkgs[@]}"

if [ $# -eq 0 ]; then
  run_python_tests
  echo "== fuzz (a few seconds per target)"
  . "$root/scripts/lib/fuzz.sh"
  run_fuzz
fi
echo "== all tests passed"
