# Assertions for the shell tests. Each prints one line, "ok - what" or
# "not ok - what: expected X, got Y", and counts; test_finish prints
# "N passed, N failed" and returns non-zero when anything failed.
T_PASSED=0
T_FAILED=0

ok() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok - $*"
}

not_ok() {
	T_FAILED=$((T_FAILED + 1))
	echo "not ok - $*"
}

assert_eq() { # WHAT EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1: expected '$2', got '$3'"; fi
}

assert_ne() { # WHAT UNEXPECTED ACTUAL
	if [ "$2" != "$3" ]; then ok "$1"; else not_ok "$1: got '$3', which it must not be"; fi
}

assert_contains() { # WHAT HAYSTACK NEEDLE
	if [[ "$2" == *"$3"* ]]; then ok "$1"; else not_ok "$1: '$3' not found in '${2:0:400}'"; fi
}

assert_not_contains() { # WHAT HAYSTACK NEEDLE
	if [[ "$2" != *"$3"* ]]; then ok "$1"; else not_ok "$1: '$3' found in '${2:0:400}'"; fi
}

# Polls COMMAND until it succeeds, for at most SECONDS (a test's patience,
# never a measurement).
wait_for() { # SECONDS COMMAND...
	local tries=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || return 1
		sleep 0.1
	done
}

test_finish() {
	echo "$T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ]
}

# A TCP port on loopback that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
