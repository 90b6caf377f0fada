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

  local dir=$work/s3 log=$work/s3.log port access secret
  mkdir -p "$dir/data" || die "cannot create $dir/data"
  port=$(free_port)
  access=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  [ ${#access} -eq 24 ] && [ ${#secret} -eq 48 ] || die "cannot generate S3 credentials"

  # --keep-alive: versitygw closes every connection after one request by
  # default, which makes the SDK pay a TCP handshake per request.
  "$bin" --port "127.0.0.1:$port" --access "$access" --secret "$secret" \
    --keep-alive --quiet posix "$dir/data" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")

  # Ready means it answers HTTP on the port: an anonymous request gets an S3
  # error document (403), which proves the S3 handler is up, not just a socket.
  local deadline=$(( $(date +%s) + 30 )) code
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "--- versitygw log (tail) ---" >&2; tail -n 40 "$log" >&2
      die "versitygw exited during start-up (port $port)"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null || true)
    case $code in
      2??|403) break ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "--- versitygw log (tail) ---" >&2; tail -n 40 "$log" >&2
      die "versitygw did not become ready on 127.0.0.1:$port within 30s (last HTTP status: ${code:-none})"
    fi
    sleep 0.1
  done

  export CAIRN_TEST_S3_ENDPOINT=http://127.0.0.1:$port
  export CAIRN_TEST_S3_ACCESS_KEY=$access
  export CAIRN_TEST_S3_SECRET_KEY=$secret
  echo "== versitygw on $CAIRN_TEST_S3_ENDPOINT (data in $dir/data)"
}
