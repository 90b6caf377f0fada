# Web UI checks, sourced by scripts/test.sh (which provides die and $work).
#
# check_ui_build rebuilds the UI from web/ with the locked toolchain
# (npm ci, then tsc and vite) into a temporary directory and fails if the
# committed build in internal/webui/dist differs: go build and go test
# embed that directory and need no Node, so it must be what web/ builds.
#
# start_chromium makes sure the browser tests have Debian's chromium,
# installing it with apt-get when it is missing (as root), and exports
# CAIRN_TEST_CHROMIUM; it fails loudly when it cannot.

check_ui_build() {
  command -v npm >/dev/null ||
    die "npm is not installed: the committed UI build (internal/webui/dist) cannot be checked; install Node.js 20.19+ with npm"
  local out=$work/ui-dist
  echo "== UI build check (npm ci && npm run build in web/)"
  if ! (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error >"$work/npm-ci.log" 2>&1); then
    tail -n 30 "$work/npm-ci.log" >&2
    die "npm ci in web/ failed (log above)"
  fi
  if ! (cd "$root/web" && npm run build -- --outDir "$out" --emptyOutDir --logLevel warn >"$work/ui-build.log" 2>&1); then
    tail -n 40 "$work/ui-build.log" >&2
    die "the UI in web/ does not build (log above)"
  fi
  if ! diff -r "$out" "$root/internal/webui/dist" >"$work/ui-diff.log" 2>&1; then
    head -n 40 "$work/ui-diff.log" >&2
    die "internal/webui/dist is not what web/ builds: run (cd web && npm ci && npm run build) and commit internal/webui/dist"
  fi
  echo "   internal/webui/dist matches a fresh build"
}

start_chromium() {
  local bin
  bin=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      echo "== installing Chromium (apt-get install chromium)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
        die "Chromium is not installed and apt-get update failed"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
        die "Chromium is not installed and apt-get install chromium failed"
      bin=$(command -v chromium || true)
    fi
    [ -n "$bin" ] ||
      die "Chromium is not installed (the browser tests of internal/webui need it); install the chromium package, or run as root to have it installed"
  fi
  "$bin" --version >/dev/null 2>&1 || die "$bin does not run ($bin --version failed)"
  export CAIRN_TEST_CHROMIUM=$bin
  echo "   $("$bin" --version 2>/dev/null)"
}
