# run_fuzz runs every Fuzz target in the module for a few seconds.
#
# Go's fuzzer can end a run that found nothing with "context deadline
# exceeded" when -fuzztime runs out while a worker is busy (no failing
# input is written then). Such a run is tried once more; a run that writes
# a failing input, or fails twice, fails the suite.
run_fuzz() {
  local secs=${CAIRN_FUZZ_SECONDS:-4}
  local pkg f out
  out=$(mktemp)
  for pkg in $(go list ./...); do
    local dir; dir=$(go list -f '{{.Dir}}' "$pkg")
    for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      echo "-- $pkg $f"
      if ! go test -run '^$' -fuzz "^$f\$" -fuzztime "${secs}s" "$pkg" 2>&1 | tee "$out"; then
        if grep -q 'Failing input written' "$out" || ! grep -q 'context deadline exceeded' "$out"; then
          rm -f "$out"
          return 1
        fi
        echo "-- $pkg $f: the fuzzer's deadline ran out mid-run with no failing input; once more"
        go test -run '^$' -fuzz "^$f\$" -fuzztime "${secs}s" "$pkg" || { rm -f "$out"; return 1; }
      fi
    done
  done
  rm -f "$out"
}
