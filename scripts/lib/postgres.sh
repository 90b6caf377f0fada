# start_postgres starts a throwaway PostgreSQL cluster for the tests and
# exports CAIRN_TEST_POSTGRES_URL, a superuser URL to it.
#
# Sourced by scripts/test.sh, which provides die, free_port, $work (a fresh
# directory of mode 755) and the pids array, and whose cleanup stops the
# cluster with "$PGBIN/pg_ctl -D $work/pg" and removes $work. PGBIN is
# therefore a global.
#
# The cluster lives in $work/pg, owned by the postgres user when we are root
# (initdb refuses to run as root), trusts every local connection (-A trust)
# and listens on 127.0.0.1 on a free port only. It runs with fsync=off,
# synchronous_commit=off and full_page_writes=off: its data is thrown away
# after the run, so durability buys nothing and costs minutes of fsyncs.
# Never use these settings for a real database.
start_postgres() {
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$PGBIN" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      echo "== installing PostgreSQL (apt-get install postgresql)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
        die "PostgreSQL is not installed and apt-get update failed"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
        die "PostgreSQL is not installed and apt-get install postgresql failed"
      PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
    [ -n "$PGBIN" ] ||
      die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin); install the postgresql package, or run as root to have it installed"
  fi
  for b in initdb pg_ctl pg_isready; do
    [ -x "$PGBIN/$b" ] || die "PostgreSQL installation is incomplete: $PGBIN/$b is missing"
  done

  # as_pg runs a command as the cluster's owner: postgres when we are root,
  # ourselves otherwise.
  local -a as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user to own the cluster"
    as_pg=(runuser -u postgres --)
  fi

  local data=$work/pg sock=$work/pgsock log=$work/pgsock/postgres.log port
  mkdir -p "$data" "$sock" || die "cannot create $data and $sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$data" "$sock" || die "cannot give $data and $sock to postgres"
  fi
  chmod 700 "$data"

  echo "== starting PostgreSQL ($PGBIN)"
  if ! "${as_pg[@]}" "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$sock/initdb.log" 2>&1; then
    tail -n 30 "$sock/initdb.log" >&2
    die "initdb failed (log above)"
  fi

  port=$(free_port)
  # max_connections is raised because every test gets its own database and
  # pool, and go test runs packages in parallel.
  if ! "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$sock" \
    -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null 2>&1; then
    tail -n 30 "$log" >&2 2>/dev/null
    die "PostgreSQL did not start on 127.0.0.1:$port (log above)"
  fi
  # The postmaster's pid, so that test.sh's cleanup stops it even if pg_ctl
  # cannot (it is stopped with pg_ctl first in any case).
  local pmpid
  pmpid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) && [ -n "$pmpid" ] && pids+=("$pmpid")

  if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 30; then
    tail -n 30 "$log" >&2 2>/dev/null
    die "PostgreSQL on 127.0.0.1:$port is not accepting connections (log above)"
  fi
  export CAIRN_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  echo "   $("$PGBIN/postgres" --version) on 127.0.0.1:$port"
}
