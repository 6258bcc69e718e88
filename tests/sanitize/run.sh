#!/bin/bash
# The test suite once more, built with AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer in a build folder of its own: the unit
# tests, the store's test against a throwaway PostgreSQL, and the
# integration tests against the sanitized daemon. Any sanitizer report
# fails the test that caused it, also one from the daemon, whose stderr
# the integration tests keep to themselves: every sanitized process
# writes its reports under a folder of this run (log_path), which is read
# after each test. The last line is "N passed, N failed", summed over the
# tests' own lines plus one failure per test with a report.
# tests/sanitize/lsan.supp names the leaks LeakSanitizer must not count:
# only allocations a library gives no way to free, each with its reason.
#
#   SANITIZE_BUILD=DIR   the build folder (default build-sanitize)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. tests/lib/pg.sh

BUILD=${SANITIZE_BUILD:-$ROOT/build-sanitize}
PASSED=0
FAILED=0
LOGS=$(mktemp -d /tmp/stride-sanitize.XXXXXX)
chmod 755 "$LOGS"
trap 'rm -rf "$LOGS"' EXIT

build() {
	local log=$LOGS/build.log

	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" -Db_sanitize=address,undefined \
			-Db_lundef=false >"$log" 2>&1 || {
			tail -n 30 "$log"
			rm -rf "$BUILD"
			return 1
		}
	fi
	ninja -C "$BUILD" >"$log" 2>&1 || {
		grep -E 'error|FAILED' "$log" | head -n 30
		return 1
	}
}

# Shows the reports of one test and says whether there were any. A file
# with no error in it (statistics) is not a report.
reports() { # DIR
	local f found=1

	for f in "$1"/*; do
		[ -f "$f" ] && grep -qE 'ERROR: |runtime error|SUMMARY: ' "$f" || continue
		found=0
		echo "    --- $(basename "$f")"
		grep -v '^$' "$f" | head -n 40 | sed 's/^/    /'
	done
	return $found
}

# run_one NAME COMMAND...: as tests/run.sh does, plus the reports.
run_one() {
	local name=$1 log=$LOGS/$1.log dir=$LOGS/reports/$1 rc line p f
	shift

	mkdir -p "$dir"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$dir/asan \
	LSAN_OPTIONS=suppressions=$ROOT/tests/sanitize/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$dir/ubsan \
		"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 77 ] && ! reports "$dir" >/dev/null; then
		echo "SKIP $name: $(tail -n 1 "$log")"
		return
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(cut -d' ' -f1 <<<"${line:-0 passed, 0 failed}")
	f=$(cut -d' ' -f3 <<<"${line:-0 passed, 0 failed}")
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	reports "$dir" >/dev/null && f=$((f + 1))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $name ($p passed, $f failed, exit $rc):"
		grep -v '^ok - ' "$log" | tail -n 40 | sed 's/^/    /'
		reports "$dir" && echo "    (a sanitizer report counts as one more failure)"
	else
		echo "ok   $name ($p checks)"
	fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
}

if ! build; then
	echo "FAIL the sanitized build ($BUILD)"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== unit tests (ASan, UBSan)"
for t in "$BUILD"/tests/test_*; do
	[ -f "$t" ] && [ -x "$t" ] && [ "$(basename "$t")" != test_store ] || continue
	run_one "$(basename "$t")" "$t" "$ROOT/tests/data"
done

echo "== store (ASan, UBSan, real PostgreSQL)"
if [ -x "$BUILD/tests/test_store" ]; then
	pgdir=$(mktemp -d /tmp/stride-pg.XXXXXX)
	if pg_start "$pgdir" >/dev/null; then
		STRIDE_TEST_DATABASE_URL=$DATABASE_URL run_one test_store \
			"$BUILD/tests/test_store" "$ROOT/tests/data"
	else
		echo "FAIL test_store: PostgreSQL did not start"
		FAILED=$((FAILED + 1))
	fi
	pg_stop "$pgdir"
fi

echo "== integration (ASan, UBSan daemon)"
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	BUILD_DIR=$BUILD run_one "$(basename "$t" .sh)" bash "$t"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
