# start_s3 starts a throwaway S3-compatible server (versitygw, Apache-2.0) on
# 127.0.0.1 with random credentials and a posix backend under $work, waits
# until it answers S3 requests, and exports CAIRN_TEST_S3_ENDPOINT,
# CAIRN_TEST_S3_ACCESS_KEY and CAIRN_TEST_S3_SECRET_KEY for internal/testenv.
# It is sourced by scripts/test.sh, which defines die, free_port, wait_port,
# $work, $root and the pids array killed on exit.
#
# The versitygw binary is cached in ${CAIRN_TOOLS:-$HOME/.cache/cairn-tools}
# and built there on first use (a cold build takes about three minutes).
CAIRN_VERSITYGW_VERSION=v1.8.0

start_s3() {
  local tools=${CAIRN_TOOLS:-$HOME/.cache/cairn-tools}
  local bin=$tools/versitygw
  if [ ! -x "$bin" ]; then
    echo "== building versitygw $CAIRN_VERSITYGW_VERSION into $tools (takes a few minutes the first time)"
    mkdir -p "$tools" || die "cannot create $tools"
    GOBIN=$tools go install "github.com/versity/versitygw/cmd/versitygw@$CAIRN_VERSITYGW_VERSION" \
      || die "building versitygw $CAIRN_VERSITYGW_VERSION failed"
    [ -x "$bin" ] || die "go install did not produce $bin"
  fi

  local dir=$work/s3 log=$work/s3.log port access secret pid attempt
  mkdir -p "$dir/data" || die "cannot create $dir/data"
  access=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  [ ${#access} -eq 24 ] && [ ${#secret} -eq 48 ] || die "cannot generate S3 credentials"

  # free_port can hand out a port that is the local end of an outgoing
  # connection, which cannot be bound: then try another one.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    # --keep-alive: versitygw closes every connection after one request by
    # default, which makes the SDK pay a TCP handshake per request.
    "$bin" --port "127.0.0.1:$port" --access "$access" --secret "$secret" \
      --keep-alive --quiet posix "$dir/data" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    if _s3_wait_ready "$pid" "$port" "$log"; then
      break
    fi
    if grep -q 'address already in use' "$log" && [ "$attempt" -lt 5 ]; then
      continue
    fi
    echo "--- versitygw log (tail) ---" >&2; tail -n 40 "$log" >&2
    die "versitygw did not start on 127.0.0.1:$port (see the log above)"
  done

  export CAIRN_TEST_S3_ENDPOINT=http://127.0.0.1:$port
  export CAIRN_TEST_S3_ACCESS_KEY=$access
  export CAIRN_TEST_S3_SECRET_KEY=$secret
  echo "== versitygw on $CAIRN_TEST_S3_ENDPOINT (data in $dir/data)"
}

# _s3_wait_ready waits until versitygw (pid $1) answers HTTP on 127.0.0.1:$2:
# an anonymous request gets an S3 error document (403), which proves the S3
# handler is up, not just a socket. It fails if the process exits or 30
# seconds pass.
_s3_wait_ready() {
  local pid=$1 port=$2 log=$3 code=""
  local deadline=$(( $(date +%s) + 30 ))
  while :; do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null || true)
    case $code in
      2??|403) return 0 ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "versitygw on 127.0.0.1:$port not ready after 30s (last HTTP status: ${code:-none})" >>"$log"
      kill "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}
