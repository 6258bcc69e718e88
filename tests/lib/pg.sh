# A throwaway PostgreSQL 15 cluster for tests and demos. Source this file:
#
#   . tests/lib/pg.sh
#   dir=$(mktemp -d)
#   trap 'pg_stop "$dir"' EXIT      # the caller's job: pg_start sets none
#   pg_start "$dir" || exit 1
#   pg_sql "SELECT 1"
#
# pg_start DIR: initdb into DIR/data (as the postgres user when run as
#   root, since initdb refuses root), listening on a Unix socket in DIR
#   only, fsync on; starts it, waits until it accepts connections, creates
#   the database "stride" and exports PGHOST, PGDATABASE, PGUSER and
#   DATABASE_URL. On failure it prints the server log, stops what it
#   started, removes DIR and returns 1.
# pg_stop DIR: stops the cluster (fast shutdown) and removes DIR.
# pg_sql SQL: runs SQL with psql -At (quiet: rows only, no command tags),
#   stopping at the first error.
# pg_pause DIR: stops the cluster (fast shutdown: sessions are cut) and
#   keeps its data, for tests of an unreachable database.
# pg_resume DIR: starts a paused cluster again on the same data and waits
#   until it accepts connections.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a command as the cluster's owner: postgres when we are root,
# ourselves otherwise.
pg_as_owner() {
        if [ "$(id -u)" -eq 0 ]; then
                # From /, which postgres may enter: the caller's folder may be 0700.
                (cd / && runuser -u postgres -- "$@")
        else
                "$@"
        fi
}

pg_start() {
        local dir=${1:-}

        [ -n "$dir" ] && dir=$(realpath -m -- "$dir")

        if [ -z "$dir" ] || [ "$dir" = / ]; then
                echo "pg_start: needs a directory" >&2
                return 1
        fi
        if ! pg_start_cluster "$dir"; then
                [ -f "$dir/server.log" ] && tail -n 20 "$dir/server.log" >&2
                pg_stop "$dir"
                return 1
        fi
        export PGHOST=$dir PGDATABASE=stride PGUSER=postgres
        export DATABASE_URL="host=$dir dbname=stride user=postgres"
}

pg_start_cluster() {
        local dir=${1:-}

        mkdir -p "$dir" || return 1
        # Root's processes reach the socket through DIR, so others may
        # traverse it; the data directory itself stays 0700.
        chmod 755 "$dir" || return 1
        if [ "$(id -u)" -eq 0 ]; then
                chown postgres: "$dir" || return 1
        fi
        if ! pg_as_owner test -w "$dir"; then
                echo "pg_start: the cluster's owner cannot write to $dir:" \
                        "make the folders above it searchable (chmod 755)" >&2
                return 1
        fi
        pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust \
                -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
                cat "$dir/initdb.log" >&2
                return 1
        }
        pg_as_owner sh -c 'cat >>"$1"' sh "$dir/data/postgresql.conf" <<CONF || return 1
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
CONF
        pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
                -w -t 60 start >/dev/null || return 1
        pg_as_owner "$PG_BIN/createdb" -h "$dir" -U postgres stride || return 1
}

pg_stop() {
        local dir=${1:-}

        if [ -z "$dir" ] || [ "$dir" = / ] || [ ! -d "$dir" ]; then
                return 0
        fi
        if [ -f "$dir/data/postmaster.pid" ]; then
                pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w \
                        stop >/dev/null 2>&1
        fi
        rm -rf -- "$dir"
}

pg_pause() {
        local dir=${1:?pg_pause: needs a directory}

        pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

pg_resume() {
        local dir=${1:?pg_resume: needs a directory}

        pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
                -w -t 60 start >/dev/null
}

pg_sql() {
        "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -c "${1:?pg_sql: needs SQL}"
}
