#!/bin/bash
# The whole test suite: installs what it needs, builds, runs the unit
# tests, the store's test and the integration tests against a real
# PostgreSQL, real TLS and the real binary, and prints a closing line
# "N passed, N failed, N skipped" (checks, summed over every test program).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/lib/pg.sh

bash tests/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

export BUILD_DIR=${BUILD_DIR:-$ROOT/build}
werror=false
[ "${CI:-}" == true ] && werror=true
if [ -d "$BUILD_DIR" ]; then
	meson configure "$BUILD_DIR" -Dwerror=$werror >/dev/null
else
	meson setup "$BUILD_DIR" -Dwerror=$werror >/dev/null
fi || { echo "0 passed, 1 failed"; exit 1; }
if ! ninja -C "$BUILD_DIR" >"$BUILD_DIR/build.log" 2>&1; then
	cat "$BUILD_DIR/build.log"
	echo "0 passed, 1 failed"
	exit 1
fi

PASSED=0
FAILED=0
SKIPPED=0
LOGS=$(mktemp -d /tmp/stride-tests.XXXXXX)

# run_one NAME COMMAND...: runs a test program, shows its failures, and
# adds its "N passed, N failed" to the totals. Exit 77 is a skip; a
# program that fails without saying how many checks failed counts one.
run_one() {
	local name=$1 log=$LOGS/$1.log rc line p f
	shift
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		SKIPPED=$((SKIPPED + 1))
		echo "SKIP $name: $(tail -n 1 "$log")"
		return
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(cut -d' ' -f1 <<<"${line:-0 passed, 0 failed}")
	f=$(cut -d' ' -f3 <<<"${line:-0 passed, 0 failed}")
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $rc):"
		grep -v '^ok - ' "$log" | tail -n 60 | sed 's/^/    /'
	else
		echo "ok   $name ($p checks)"
	fi
}

echo "== unit tests"
for t in "$BUILD_DIR"/tests/test_*; do
	[ -f "$t" ] && [ -x "$t" ] && [ "$(basename "$t")" != test_store ] || continue
	run_one "$(basename "$t")" "$t" "$ROOT/tests/data"
done

echo "== store and spool replay (real PostgreSQL)"
if [ -x "$BUILD_DIR/tests/test_store" ]; then
	pgdir=$(mktemp -d /tmp/stride-pg.XXXXXX)
	if pg_start "$pgdir" >/dev/null; then
		STRIDE_TEST_DATABASE_URL=$DATABASE_URL run_one test_store \
			"$BUILD_DIR/tests/test_store" "$ROOT/tests/data"
		STRIDE_TEST_DATABASE_URL=$DATABASE_URL run_one test_spool_replay \
			"$BUILD_DIR/tests/test_spool" "$ROOT/tests/data"
	else
		echo "FAIL test_store: PostgreSQL did not start"
		FAILED=$((FAILED + 1))
	fi
	pg_stop "$pgdir"
fi

echo "== integration (real binary, TLS, PostgreSQL)"
for t in tests/integration/test_*.sh; do
	run_one "$(basename "$t" .sh)" bash "$t"
done

echo "== other suites (units, fuzzing, sanitizers, system)"
for t in tests/*/run.sh; do
	run_one "$(basename "$(dirname "$t")")" bash "$t"
done

rm -rf "$LOGS"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
