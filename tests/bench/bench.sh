#!/bin/bash
# The benchmark: what the daemon sustains and how fast it answers, with
# group commit and with one transaction per delivery, side by side. Not
# a test: tests/run.sh does not run it and nothing here asserts a time.
#
#   BUILD_DIR=build bash tests/bench/bench.sh [SECONDS_PER_RUN]
#
# It starts a throwaway PostgreSQL (fsync on, Unix socket) and the real
# daemon under tests/activate with TLS on, then for each load (1 and 16
# senders on keep-alive connections, 1 and 16 senders opening a new
# connection per request) runs tests/bench/sender.c against a daemon with
# group commit (STORE_BATCH_MAX unset) and against one with
# STORE_BATCH_MAX=1, and prints deliveries per second, the answer time
# (p50/p99, from the sender starting on the request, connecting and the
# TLS handshake included for new connections, to the last byte), commits
# per second (pg_stat_database) and how many answers were 202 (spooled at
# ANSWER_DEADLINE_MS). Then the time from a cold start, no daemon
# running, to the first answer, socket activation included. With wrk
# installed it also runs wrk once (16 keep-alive, group commit) as a
# check on the sender's figures. Every request is a new alert with an
# incident id of its own, so none is short-cut as a redelivery.
. "$(dirname "$0")/../integration/setup.sh"

RUN_SECONDS=${1:-10}
COLD_RUNS=5

# shellcheck disable=SC2046  # pkg-config's flags are words
gcc -std=gnu11 -O2 -Wall -Wextra "$TESTS/bench/sender.c" -o "$WORK/sender" \
	$(pkg-config --cflags --libs gnutls) -lpthread || exit 1

commits() {
	pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}

spooled() {
	curl -sS -m 5 --cacert "$CERT" "$BASE/api/webhooks/health" | jq -r .spooled
}

spool_empty() {
	[ "$(spooled)" == 0 ]
}

row() { # LOAD COMMIT DELIVERIES/S P50 P99 COMMITS/S PER_COMMIT 202 OTHER
	printf '%-26s %-13s %9s %8s %8s %9s %8s %7s %7s\n' "$@"
}

# measure LOAD MODE SENDERS [-n] [VAR=value ...]: one row.
measure() {
	local load=$1 mode=$2 senders=$3 newconn='' c0 c1 out
	shift 3
	if [ "${1:-}" == -n ]; then
		newconn=-n
		shift
	fi
	daemon_start IDLE_TIMEOUT_SEC=0 "$@"
	"$WORK/sender" -p "$PORT" -C "$CERT" -1 -t "warm-$RANDOM$RANDOM" >/dev/null

	c0=$(commits)
	out=$("$WORK/sender" -p "$PORT" -C "$CERT" -c "$senders" -d "$RUN_SECONDS" \
		$newconn -t "$mode-$senders$newconn-$(date +%s%N)")
	# Backends report their statistics within a second of going idle.
	sleep 2
	c1=$(commits)
	wait_for 120 spool_empty || echo "# the spool did not drain: $(spooled) left"
	daemon_stop
	: >"$WORK/daemon.log"

	read -r _ n secs p50 p99 _ queued other errors <<<"$out"
	row "$load" "$mode" \
		"$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
		"$p50" "$p99" \
		"$(awk -v c=$((c1 - c0)) -v s="$secs" 'BEGIN { printf "%.0f", c / s }')" \
		"$(awk -v n="$n" -v c=$((c1 - c0)) 'BEGIN { printf "%.1f", c ? n / c : 0 }')" \
		"$queued" "$((other + errors))"
}

cold_start() {
	local i out times=() ready=() warm=()
	daemon_start IDLE_TIMEOUT_SEC=1
	for i in $(seq "$COLD_RUNS"); do
		# No daemon runs: every one started has exited.
		wait_for 30 bash -c "[ \$(grep -c '^started' '$WORK/events') -eq \
			\$(grep -c '^exited' '$WORK/events') ]" || break
		out=$(curl -sS -m 10 -o /dev/null --cacert "$CERT" \
			-w '%{time_appconnect} %{time_total} %{http_code}' \
			-H 'Content-Type: application/json' \
			--data-binary "{\"id\":\"cold-$i-$(date +%s%N)\",\"title\":\"Cold start $i\",\"priority\":\"HIGH\",\"state\":\"ACTIVATED\",\"createdAt\":1718801460513,\"updatedAt\":1718801461807}" \
			"$BASE/api/webhooks/newrelic")
		read -r tls total code <<<"$out"
		[ "$code" == 201 ] || echo "# cold start $i answered $code"
		times+=("$total")
		ready+=("$tls")
		# The same on a daemon that runs, on a new connection too.
		out=$(curl -sS -m 10 -o /dev/null --cacert "$CERT" -w '%{time_total}' \
			-H 'Content-Type: application/json' \
			--data-binary "{\"id\":\"warm-$i-$(date +%s%N)\",\"title\":\"Warm $i\",\"priority\":\"HIGH\",\"state\":\"ACTIVATED\",\"createdAt\":1718801460513,\"updatedAt\":1718801461807}" \
			"$BASE/api/webhooks/newrelic")
		warm+=("$out")
	done
	daemon_stop
	stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 * 1000 }
		END { printf "min %.1f ms, median %.1f ms, max %.1f ms", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
	echo "cold start to first answer ($COLD_RUNS runs, daemon not running, new TLS connection):"
	echo "  answer:         $(stats "${times[@]}")"
	echo "  TLS handshaken: $(stats "${ready[@]}")"
	echo "  same request to the running daemon, new connection: $(stats "${warm[@]}")"
}

wrk_check() {
	local out
	command -v wrk >/dev/null || {
		echo "wrk check skipped: wrk is not installed (apt-get install wrk)"
		return
	}
	daemon_start IDLE_TIMEOUT_SEC=0
	out=$(wrk -t2 -c16 -d"${RUN_SECONDS}s" -s "$TESTS/bench/deliver.lua" \
		"$BASE/api/webhooks/newrelic" -- "wrk-$(date +%s%N)" | grep '^BENCH')
	wait_for 120 spool_empty
	daemon_stop
	: >"$WORK/daemon.log"
	read -r _ n secs p50 p99 non2xx queued errors <<<"$out"
	echo "wrk check, 16 keep-alive, group commit: $(awk -v n="$n" -v s="$secs" \
		'BEGIN { printf "%.0f", n / s }') deliveries/s, p50 $p50 ms, p99 $p99 ms" \
		"(wrk times from after the handshake), $queued answered 202, $((non2xx + errors)) errors"
}

echo "stride-webhooks benchmark: $(nproc) cores, $RUN_SECONDS s per run, TLS on," \
	"PostgreSQL 15 fsync on, ANSWER_DEADLINE_MS default"
row load commit deliv/s "p50 ms" "p99 ms" commits/s "per com" 202 errors
for load in "1 keep-alive" "16 keep-alive" "1 new-connection" "16 new-connection"; do
	read -r senders kind <<<"$load"
	flag=
	[ "$kind" == new-connection ] && flag=-n
	label="$senders $kind sender$([ "$senders" -gt 1 ] && echo s)"
	measure "$label" group "$senders" $flag
	measure "$label" per-delivery "$senders" $flag STORE_BATCH_MAX=1
done
echo
wrk_check
echo
cold_start
echo
echo "issues written: $(issue_count)"
