# Shared set-up of the integration tests: source it from a test script.
# It gives the test a scratch folder, a throwaway PostgreSQL with Stride's
# tables, one project SHOP and one Admin, and cleans all of it up on exit.
set -uo pipefail

TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$TESTS/data
BUILD_DIR=${BUILD_DIR:?BUILD_DIR must name the meson build folder}
. "$TESTS/lib/common.sh"
. "$TESTS/lib/cert.sh"
. "$TESTS/lib/pg.sh"
. "$TESTS/lib/daemon.sh"

WORK=$(mktemp -d /tmp/stride-test.XXXXXX)
chmod 755 "$WORK"

cleanup() {
	daemon_stop
	pg_stop "$WORK/pg"
	if [ "$T_FAILED" -gt 0 ] && [ -s "$WORK/daemon.log" ]; then
		echo "--- daemon log (last 30 lines)"
		tail -n 30 "$WORK/daemon.log"
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

pg_start "$WORK/pg" >/dev/null || { echo "PostgreSQL did not start"; exit 1; }
"$BUILD_DIR/stride-webhooks" migrate --stride-schema >/dev/null || {
	echo "migrate --stride-schema failed"
	exit 1
}

seed_stride() {
	pg_sql "INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", \"updatedAt\")
	        VALUES ('p-shop', 'SHOP', 'Shop', '', now());
	        INSERT INTO users (\"id\", \"email\", \"username\", \"passwordHash\", \"role\", \"updatedAt\")
	        VALUES ('u-admin', 'admin@example.com', 'admin', 'x', 'Admin', now());" >/dev/null
}
seed_stride

issue_count() {
	pg_sql 'SELECT count(*) FROM issues'
}
