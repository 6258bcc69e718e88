#!/bin/bash
# The fuzz run. Builds the libFuzzer targets with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer in a build folder of its own, replays
# every input kept under tests/fuzz/regressions/TARGET/ (what fuzzing
# found, and inputs too large to fuzz from quickly), then fuzzes each
# target for a bounded time from its seeds: the payloads in tests/data
# and tests/fuzz/seeds/TARGET/. One check per replayed input and one per
# target run; the last line is "N passed, N failed".
#
#   FUZZ_SECONDS=20   time per target      FUZZ_JOBS=2   targets at once
#   FUZZ_BUILD=DIR    the clang build folder (default build-fuzz)
#
# A new crash is kept in FUZZ_BUILD/artifacts/TARGET/: once fixed, put the
# input under tests/fuzz/regressions/TARGET/ so that every run replays it.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tests/fuzz
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-2}
TARGETS=(json text auth sentry datadog newrelic)

# An invariant or sanitizer failure must end the input: libFuzzer then
# keeps it. Leaks are checked after every input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/stride-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "not ok - $*"
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
}

build() {
	local log=$WORK/build.log

	if [ ! -f "$BUILD/build.ninja" ]; then
		CC=clang meson setup "$BUILD" -Dfuzz=true \
			-Db_sanitize=address,undefined -Db_lundef=false \
			-Dc_args=-fsanitize=fuzzer-no-link >"$log" 2>&1 || {
			tail -n 30 "$log"
			rm -rf "$BUILD"
			return 1
		}
	fi
	ninja -C "$BUILD" "${TARGETS[@]/#/tests/fuzz/fuzz_}" >"$log" 2>&1 || {
		grep -E 'error|FAILED' "$log" | head -n 30
		return 1
	}
}

# The seeds of a target, copied into the corpus libFuzzer grows.
seed() { # TARGET DIR
	case $1 in
	json | text) cp "$ROOT"/tests/data/*/*.json "$2"/ ;;
	sentry | datadog | newrelic) cp "$ROOT/tests/data/$1"/*.json "$2"/ ;;
	esac
	[ ! -d "$FUZZ/seeds/$1" ] || find "$FUZZ/seeds/$1" -type f -exec cp {} "$2"/ \;
}

replay() { # TARGET
	local bin=$BUILD/tests/fuzz/fuzz_$1 input log=$WORK/replay.log

	for input in "$FUZZ/regressions/$1"/*; do
		[ -f "$input" ] || continue
		if timeout 60 "$bin" -timeout=5 -rss_limit_mb=1024 "$input" >"$log" 2>&1; then
			pass "fuzz_$1 replays regressions/$1/$(basename "$input")"
		else
			fail "fuzz_$1 fails on regressions/$1/$(basename "$input"):"
			findings "$log"
		fi
	done
}

# The lines of a libFuzzer log that say what failed and where, without
# the frames of libFuzzer and libc.
findings() { # LOG
	grep -E 'ERROR|invariant|runtime error|SUMMARY|^ +#[0-9]+ |Test unit written' "$1" |
		grep -vE 'fuzzer::|libc\.so|libc_start|stdlib/|signal/|nptl/|_start |print_stack_trace' |
		head -n 30 | sed 's/^/    /'
}

# Fuzzes one target in the background; its result goes to WORK/TARGET.rc.
fuzz_one() { # TARGET
	local t=$1 corpus=$WORK/corpus/$t art=$BUILD/artifacts/$t

	mkdir -p "$corpus" "$art"
	seed "$t" "$corpus"
	timeout $((SECONDS_PER_TARGET + 120)) "$BUILD/tests/fuzz/fuzz_$t" \
		-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=5 \
		-print_final_stats=1 -artifact_prefix="$art/" "$corpus" \
		>"$WORK/$t.log" 2>&1
	echo $? >"$WORK/$t.rc"
}

report() { # TARGET
	local t=$1 runs

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")
	if [ "$(cat "$WORK/$t.rc")" -eq 0 ]; then
		pass "fuzz_$t: ${runs:-?} inputs in ${SECONDS_PER_TARGET} s, no failure"
		return
	fi
	fail "fuzz_$t found a failure (exit $(cat "$WORK/$t.rc")), input kept in $BUILD/artifacts/$t/:"
	findings "$WORK/$t.log"
}

if ! build; then
	fail "the fuzz targets build (clang, -Dfuzz=true, $BUILD)"
	finish
fi

for t in "${TARGETS[@]}"; do
	replay "$t"
done

running=0
for t in "${TARGETS[@]}"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait
for t in "${TARGETS[@]}"; do
	report "$t"
done
finish
