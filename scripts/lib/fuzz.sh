# run_fuzz runs every Fuzz target in the module for a few seconds.
run_fuzz() {
  local secs=${CAIRN_FUZZ_SECONDS:-4}
  local pkg f
  for pkg in $(go list ./...); do
    local dir; dir=$(go list -f '{{.Dir}}' "$pkg")
    for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      echo "-- $pkg $f"
      go test -run '^$' -fuzz "^$f\$" -fuzztime "${secs}s" "$pkg"
    done
  done
}
