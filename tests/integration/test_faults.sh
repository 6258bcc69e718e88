#!/bin/bash
# Faults, with the real binary under the socket activator and a real
# PostgreSQL: the database stopped during a burst and started again; the
# database made slow by a lock on the issues table; the daemon killed
# with SIGKILL in the middle of a burst; the spool's file system full.
# After each, every delivery answered 2xx or 202 is stored exactly once
# (its issue, its occurrence, its deliveries row), and the test prints
# the counts. Deliveries answered otherwise may or may not be stored.
. "$(dirname "$0")/setup.sh"

PG=$WORK/pg
ANSWERS=$WORK/answers
: >"$ANSWERS"

# ---- deliveries ----

# The body of delivery ID (PREFIX-N): odd N a New Relic incident of its
# own, "Fault alert ID"; even N a Datadog occurrence of the one incident
# "Fault occurrences PREFIX". PAD bytes of padding make it bigger.
body_of() { # ID [PAD]
	local id=$1 n=${1##*-} prefix=${1%-*} pad=
	[ "${2:-0}" -gt 0 ] && pad=",\"padding\":\"$(head -c "$2" /dev/zero | tr '\0' x)\""
	if [ $((n % 2)) -eq 1 ]; then
		printf '{"id":"%s","title":"Fault alert %s","priority":"HIGH","state":"ACTIVATED","createdAt":1718801460513,"updatedAt":1718801461807%s}' \
			"$id" "$id" "$pad"
	else
		printf '{"id":"%s","title":"[Triggered] Fault occurrences %s","event_type":"query_alert_monitor","date":"1718801462000","body":"fault test"%s}' \
			"$id" "$prefix" "$pad"
	fi
}

provider_of() { # ID
	[ $((${1##*-} % 2)) -eq 1 ] && echo newrelic || echo datadog
}

# send_one ID [PAD]: POSTs it and appends "ID STATUS DIGEST" to $ANSWERS
# (status 000: no answer).
send_one() {
	local id=$1 file=$WORK/body.$1 code digest
	body_of "$id" "${2:-0}" >"$file"
	digest=$(sha256sum "$file" | cut -d' ' -f1)
	code=$(curl -sS -m 20 -o /dev/null -w '%{http_code}' --cacert "$CERT" \
		-H 'Content-Type: application/json' --data-binary "@$file" \
		"$BASE/api/webhooks/$(provider_of "$id")" 2>/dev/null)
	echo "$id ${code:-000} $digest" >>"$ANSWERS"
	rm -f "$file"
}

# burst PREFIX COUNT PARALLEL: COUNT deliveries, PARALLEL at a time.
# (It waits for its own senders only: the activator is a child too.)
burst() {
	local i pids=()
	for i in $(seq "$2"); do
		send_one "$1-$i" &
		pids+=($!)
		if [ $((i % $3)) -eq 0 ]; then
			wait "${pids[@]}"
			pids=()
		fi
	done
	[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
}

answered() { # PREFIX [STATUS_REGEX]: how many answers so far
	grep -cE "^$1-[0-9]+ (${2:-[0-9]+}) " "$ANSWERS"
}

at_least() { # PREFIX N [STATUS_REGEX]
	[ "$(answered "$1" "${3:-}")" -ge "$2" ]
}

ids_where() { # PREFIX STATUS_REGEX PARITY(1 odd, 0 even, - any)
	awk -v p="$1" -v s="^($2)\$" -v par="$3" '
		index($1, p "-") == 1 && $2 ~ s {
			n = substr($1, length(p) + 2)
			if (par == "-" || n % 2 == par) print $1
		}' "$ANSWERS"
}

digests_where() { # PREFIX STATUS_REGEX
	awk -v p="$1" -v s="^($2)\$" 'index($1, p "-") == 1 && $2 ~ s { print $3 }' "$ANSWERS"
}

sql_list() { # lines on stdin: 'a','b' for ARRAY[...]
	awk '{ printf "%s\047%s\047", (NR > 1 ? "," : ""), $1 } END { if (NR == 0) printf "NULL" }'
}

# ---- the daemon and the database ----

health_field() {
	curl -sS -m 5 --cacert "$CERT" "$BASE/api/webhooks/health" | jq -r ".$1"
}

spool_empty() {
	[ "$(health_field spooled)" == 0 ]
}

running_pid() { # the daemon running now, or nothing
	awk '$1 == "started" { run[$2] = 1 } $1 == "exited" { delete run[$2] }
	     END { for (p in run) print p }' "$WORK/events"
}

none_running() {
	[ -z "$(running_pid)" ]
}

# hold_lock SECONDS: a session holds ACCESS EXCLUSIVE on issues for that
# long, in the background (HOLDER_PID); returns once the lock is held.
hold_lock() {
	pg_sql "BEGIN; LOCK TABLE issues IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT" \
		>/dev/null &
	HOLDER_PID=$!
	wait_for 10 lock_held
}

lock_held() {
	[ "$(pg_sql "SELECT count(*) FROM pg_locks WHERE relation = 'issues'::regclass
	             AND mode = 'AccessExclusiveLock' AND granted")" == 1 ]
}

# ---- the counts ----

q() {
	pg_sql "$1"
}

# check_stored PREFIX: every delivery of the burst answered 2xx or 202
# is stored exactly once; those answered otherwise at most once.
check_stored() {
	local p=$1 acked='2[0-9][0-9]' other='000|[13-9][0-9][0-9]'
	local a_nr a_dd a_dig all_dig n_a_nr n_a_dd n_o_nr n_o_dd
	a_nr=$(ids_where "$p" "$acked" 1 | sql_list)
	a_dd=$(ids_where "$p" "$acked" 0 | sql_list)
	a_dig=$(digests_where "$p" "$acked" | sql_list)
	all_dig=$(digests_where "$p" '[0-9]+' | sql_list)
	n_a_nr=$(ids_where "$p" "$acked" 1 | wc -l)
	n_a_dd=$(ids_where "$p" "$acked" 0 | wc -l)
	n_o_nr=$(ids_where "$p" "$other" 1 | wc -l)
	n_o_dd=$(ids_where "$p" "$other" 0 | wc -l)

	local nr_once nr_total nr_dup nr_occ dd_counted dd_occ dd_rows dd_issues
	local dd_trace del_once del_total
	nr_once=$(q "SELECT count(*) FROM unnest(ARRAY[$a_nr]::text[]) x(id) WHERE
	             (SELECT count(*) FROM issues WHERE \"title\" = 'Fault alert ' || x.id) = 1")
	nr_total=$(q "SELECT count(*) FROM issues WHERE \"title\" LIKE 'Fault alert $p-%'")
	nr_dup=$(q "SELECT count(*) FROM (SELECT 1 FROM issues WHERE \"title\" LIKE
	            'Fault alert $p-%' GROUP BY \"title\" HAVING count(*) > 1) t")
	nr_occ=$(q "SELECT coalesce(sum(i.occurrences), 0) FROM stride_webhooks.incidents i
	            JOIN issues s ON s.\"id\" = i.issue_id WHERE s.\"title\" LIKE 'Fault alert $p-%'")
	dd_issues=$(q "SELECT count(*) FROM issues WHERE \"title\" = 'Fault occurrences $p'")
	dd_counted=$(q "SELECT count(*) FROM unnest(ARRAY[$a_dd]::text[]) x(id) WHERE
	                (SELECT count(*) FROM stride_webhooks.occurrences o WHERE
	                 o.provider = 'datadog' AND o.occurrence_id = x.id) = 1")
	dd_occ=$(q "SELECT coalesce(sum(i.occurrences), 0) FROM stride_webhooks.incidents i
	            JOIN issues s ON s.\"id\" = i.issue_id WHERE s.\"title\" = 'Fault occurrences $p'")
	dd_rows=$(q "SELECT count(*) FROM stride_webhooks.occurrences o
	             JOIN stride_webhooks.incidents i USING (provider, project_id, external_id)
	             JOIN issues s ON s.\"id\" = i.issue_id WHERE s.\"title\" = 'Fault occurrences $p'")
	dd_trace=$(q "SELECT coalesce(max(\"customFields\"->'errorTrace'->>'occurrenceCount'), '0')
	              FROM issues WHERE \"title\" = 'Fault occurrences $p'")
	del_once=$(q "SELECT count(*) FROM unnest(ARRAY[$a_dig]::text[]) x(d) WHERE
	              (SELECT count(*) FROM stride_webhooks.deliveries WHERE digest = decode(x.d, 'hex')) = 1")
	del_total=$(q "SELECT count(*) FROM stride_webhooks.deliveries WHERE digest IN
	               (SELECT decode(d, 'hex') FROM unnest(ARRAY[$all_dig]::text[]) x(d))")

	echo "# $p: sent $(answered "$p"): answered 2xx $(answered "$p" '20[01]')," \
		"202 $(answered "$p" 202), otherwise $(answered "$p" "$other");" \
		"stored: $nr_total New Relic issues, $dd_issues Datadog issue with" \
		"$dd_occ occurrences, $((nr_occ + dd_occ)) occurrences in all, $del_total deliveries rows"

	assert_eq "$p: each acknowledged New Relic alert is one issue" "$n_a_nr" "$nr_once"
	assert_eq "$p: no issue twice" 0 "$nr_dup"
	assert_eq "$p: each New Relic incident counted once" "$nr_total" "$nr_occ"
	assert_eq "$p: each acknowledged Datadog occurrence counted once" "$n_a_dd" "$dd_counted"
	assert_eq "$p: the Datadog incident's count is its occurrences" "$dd_rows" "$dd_occ"
	assert_eq "$p: and the issue shows it" "$dd_occ" "$dd_trace"
	assert_eq "$p: the Datadog occurrences share one issue" \
		"$([ "$dd_occ" -gt 0 ] && echo 1 || echo 0)" "$dd_issues"
	assert_eq "$p: each acknowledged delivery has its deliveries row" \
		"$(digests_where "$p" "$acked" | wc -l)" "$del_once"
	# What was not acknowledged may have been stored, once at most.
	assert_eq "$p: New Relic issues: the acknowledged ones, and unacknowledged at most" true \
		"$([ "$nr_total" -ge "$n_a_nr" ] && [ "$nr_total" -le $((n_a_nr + n_o_nr)) ] &&
			echo true || echo "false ($nr_total of $n_a_nr + $n_o_nr)")"
	assert_eq "$p: Datadog occurrences: the acknowledged ones, and unacknowledged at most" true \
		"$([ "$dd_occ" -ge "$n_a_dd" ] && [ "$dd_occ" -le $((n_a_dd + n_o_dd)) ] &&
			echo true || echo "false ($dd_occ of $n_a_dd + $n_o_dd)")"
	assert_eq "$p: deliveries rows: one per stored delivery" $((nr_total + dd_occ)) "$del_total"
}

daemon_start IDLE_TIMEOUT_SEC=2

echo "# PostgreSQL stopped during a burst, then started again"
burst down 120 8 &
burst_pid=$!
wait_for 30 at_least down 30
pg_pause "$PG"
wait "$burst_pid"
assert_eq "every delivery answered 2xx or 202" 120 "$(answered down '2[0-9][0-9]')"
assert_ne "some were spooled" 0 "$(answered down 202)"
pid=$(running_pid)
sleep 4
assert_eq "with alerts spooled the daemon does not exit on idle" "$pid" "$(running_pid)"
request GET /api/webhooks/health
assert_eq "health answers 503 without the database" 503 "$STATUS"
assert_eq "health says the database is down" down "$(field database)"
assert_eq "health counts what is spooled" "$(find "$WORK/state/spool" -type f | wc -l)" \
	"$(field spooled)"
assert_ne "something is spooled" 0 "$(field spooled)"
assert_contains "the journal says it falls back to the spool" "$(cat "$WORK/daemon.log")" \
	"webhooks are spooled to $WORK/state/spool"
pg_resume "$PG"
wait_for 60 spool_empty
assert_eq "the spool drains" 0 "$(health_field spooled)"
assert_eq "no dead letters" 0 "$(health_field deadLetters)"
check_stored down
assert_contains "the journal says the spool was drained" "$(cat "$WORK/daemon.log")" \
	"spool drained: "
wait_for 20 none_running
assert_eq "once drained, the daemon exits on idle" "" "$(running_pid)"

echo "# PostgreSQL slow: a lock on issues held past ANSWER_DEADLINE_MS"
hold_lock 5
burst slow 24 12
assert_eq "every delivery answered 202 from the spool" 24 "$(answered slow 202)"
wait "$HOLDER_PID"
wait_for 60 spool_empty
assert_eq "the spool drains" 0 "$(health_field spooled)"
assert_eq "no dead letters" 0 "$(health_field deadLetters)"
check_stored slow

echo "# SIGKILL in the middle of a burst, with alerts in the spool"
request GET /api/webhooks/health
hold_lock 3
burst kill 150 8 &
burst_pid=$!
wait_for 30 at_least kill 16 202
killed=$(running_pid)
in_spool=$(find "$WORK/state/spool" -type f | wc -l)
echo "# killing $killed with $in_spool alerts in the spool"
kill -9 "$killed"
assert_ne "it was killed with alerts in the spool" 0 "$in_spool"
wait "$burst_pid"
wait "$HOLDER_PID"
assert_contains "it died of SIGKILL" "$(cat "$WORK/events")" "exited $killed signal 9"
assert_ne "the next connection started it again" "$killed" "$(daemon_pids | tail -n 1)"
assert_contains "which replays the spool at start" "$(cat "$WORK/daemon.log")" \
	"webhooks wait in the spool $WORK/state/spool: replaying"
wait_for 60 spool_empty
assert_eq "the spool drains" 0 "$(health_field spooled)"
assert_eq "nothing half-written is left in incoming/" 0 \
	"$(find "$WORK/state/incoming" -type f | wc -l)"
assert_eq "no dead letters" 0 "$(health_field deadLetters)"
check_stored kill
daemon_stop

echo "# SIGTERM in the middle of a burst, as systemctl restart sends it"
daemon_start IDLE_TIMEOUT_SEC=60
burst term 80 4 &
burst_pid=$!
wait_for 30 at_least term 20
stopped=$(running_pid)
kill -TERM "$stopped"
wait "$burst_pid"
assert_contains "it exited 0 on SIGTERM" "$(cat "$WORK/events")" "exited $stopped 0"
assert_ne "the next connection started a new process" "$stopped" "$(daemon_pids | tail -n 1)"
assert_eq "no connection was dropped: every delivery was answered 2xx or 202" 80 \
	"$(answered term '2[0-9][0-9]')"
wait_for 60 spool_empty
check_stored term

echo "# SIGTERM with idle connections open (keep-alive, a bare TCP one)"
python3 - "$PORT" "$CERT" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
held = []
for i in range(3):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                        server_hostname="127.0.0.1")
    s.sendall(b"GET /api/webhooks/sentry HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1000)
    held.append(s)
held.append(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
time.sleep(8)
PY
holder=$!
sleep 2
stopped=$(running_pid)
kill -TERM "$stopped"
wait_for 20 grep -q "^exited $stopped" "$WORK/events"
assert_eq "it still exits 0" "exited $stopped 0" "$(grep "^exited $stopped" "$WORK/events")"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
daemon_stop

echo "# the spool's file system full, with PostgreSQL stopped"
mkdir -p "$WORK/small"
if ! mount -t tmpfs -o size=96k,mode=0700 tmpfs "$WORK/small" 2>"$WORK/mount.err"; then
	echo "# skipped: a full file system needs root to mount a tmpfs: $(cat "$WORK/mount.err")"
	test_finish
	exit
fi
trap 'daemon_stop; umount "$WORK/small" 2>/dev/null; cleanup' EXIT
daemon_start IDLE_TIMEOUT_SEC=2 STATE_DIRECTORY="$WORK/small"
request GET /api/webhooks/health
pg_pause "$PG"
for i in $(seq 60); do
	send_one "full-$i" 3000
done
statuses=$(awk 'index($1, "full-") == 1 { printf "%s ", $2 }' "$ANSWERS")
assert_ne "some were spooled" 0 "$(answered full 202)"
assert_ne "some found the spool full" 0 "$(answered full 503)"
assert_eq "each answer was 202 or 503" 60 "$(answered full '202|503')"
assert_eq "never a 202 after the first 503" "" "$(grep -oE '503 .*202' <<<"$statuses")"
body_of full-99 3000 >"$WORK/big"
out=$(curl -sS -m 20 -D - -o /dev/null --cacert "$CERT" -H 'Content-Type: application/json' \
	--data-binary "@$WORK/big" "$BASE/api/webhooks/newrelic")
assert_contains "a full spool answers 503" "$out" " 503"
assert_contains "with Retry-After" "${out,,}" "retry-after:"
assert_eq "what the spool holds is what was answered 202" "$(answered full 202)" \
	"$(find "$WORK/small/spool" -type f | wc -l)"
assert_eq "nothing half-written in incoming/" 0 "$(find "$WORK/small/incoming" -type f | wc -l)"
mount -o remount,ro "$WORK/small"
send_one full-101
assert_eq "an unwritable spool answers 503" 503 "$(awk '$1 == "full-101" { print $2 }' "$ANSWERS")"
mount -o remount,rw "$WORK/small"
pg_resume "$PG"
wait_for 60 spool_empty
assert_eq "the spool drains" 0 "$(health_field spooled)"
assert_eq "no dead letters" 0 "$(health_field deadLetters)"
check_stored full
assert_eq "none answered 503 was stored" "$(ids_where full 202 1 | wc -l)" \
	"$(q "SELECT count(*) FROM issues WHERE \"title\" LIKE 'Fault alert full-%'")"
send_one full-103 3000
assert_eq "with room again, deliveries are stored" 201 \
	"$(awk '$1 == "full-103" { print $2 }' "$ANSWERS")"
daemon_stop
umount "$WORK/small"

test_finish
