# Sourced by scripts/test.sh: the Python client's tests (python/tests, the
# standard library's unittest) against a real `cairn serve` that each test
# module starts on a free port. They run on Debian's python3, not whatever
# python3 comes first in PATH (pyenv shims, virtualenvs), so that CI tests
# the interpreter the client promises to support with nothing installed.

run_python_tests() {
  local py=/usr/bin/python3
  if [ ! -x "$py" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      echo "== installing python3 (apt-get install python3)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
        die "python3 is not installed and apt-get update failed"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null ||
        die "python3 is not installed and apt-get install python3 failed"
    fi
    [ -x "$py" ] || die "Debian's python3 ($py) is missing: apt-get install python3"
  fi
  echo "== python client ($("$py" --version 2>&1))"
  go build -o "$work/cairn" ./cmd/cairn
  CAIRN_BIN="$work/cairn" "$py" -m unittest discover -s python/tests -t python
}
