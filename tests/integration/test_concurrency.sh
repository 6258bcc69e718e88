#!/bin/bash
# Sixteen occurrences of one incident at once: sixteen Datadog Re-Triggered
# notifications of one alert cycle, each with its own $ID and time, sent
# together over sixteen connections. They must end as exactly one issue
# with occurrence count 16: one answer 201 created, fifteen 200 updated.
# Six more at once then show that customFields.errorTraces keeps only the
# 20 latest earlier occurrences.
. "$(dirname "$0")/setup.sh"

SECRET=concurrency-secret-3b8e61f0

# burst_1 ... burst_N from the Re-Triggered sample: one cycle key, each
# its own $ID, $DATE and link.
make_bodies() { # FROM TO
	local i id date
	mkdir -p "$WORK/data/datadog"
	for i in $(seq "$1" "$2"); do
		id=$((7701234570000010000 + i))
		date=$((1718801762000 + i * 1000))
		jq --arg id "$id" --arg date "$date" \
			'.event_id = $id | .date = $date | .last_updated = $date
			 | .link = "https://datadog.example.com/event/event?id=" + $id' \
			"$DATA/datadog/datadog_custom_retriggered.json" >"$WORK/data/datadog/burst_$i.json"
		cp "$DATA/datadog/datadog_custom_retriggered.headers" \
			"$WORK/data/datadog/burst_$i.headers"
	done
}

database_up() {
	request GET /api/webhooks/health
	[ "$STATUS" == 200 ]
}

# Delivers burst_FROM ... burst_TO at once, one curl and one connection
# each: they wait on a FIFO until all are there, and go when it closes.
# Each answer goes to $WORK/answer_I as "STATUS BODY".
burst() { # FROM TO
	local i n=$(($2 - $1 + 1)) pids=()
	rm -f "$WORK"/ready_* "$WORK"/answer_*
	mkfifo "$WORK/go"
	for i in $(seq "$1" "$2"); do
		(
			: >"$WORK/ready_$i"
			read -r _ <"$WORK/go"
			deliver datadog "burst_$i"
			echo "$STATUS $BODY" >"$WORK/answer_$i"
		) &
		pids+=($!)
	done
	wait_for 10 test "$(ls "$WORK"/ready_* 2>/dev/null | wc -l)" -eq "$n"
	# Open for writing long enough for every reader to open; its close
	# releases them all at once.
	sleep 0.5 >"$WORK/go"
	wait "${pids[@]}"
	rm -f "$WORK/go"
}

answers() { # WHAT: a column of the answers, one per line, sorted
	local f
	for f in "$WORK"/answer_*; do
		case $1 in
		status) cut -d' ' -f1 "$f" ;;
		*) cut -d' ' -f2- "$f" | jq -r ".$1" ;;
		esac
	done | sort -n
}

trace() { # PATH
	pg_sql "SELECT \"customFields\" #>> '$1' FROM issues"
}

# The time burst_I happened at, as errorTrace says it.
burst_time() { # I
	printf '2024-06-19T12:56:%02d.000Z' $((2 + $1))
}

# Whose the current trace and the earlier ones are, by their times:
# "16: 15 14 ... 1".
traces() {
	local current earlier i
	current=$(trace '{errorTrace,timestamp}')
	earlier=$(pg_sql "SELECT string_agg(x.e ->> 'timestamp', ' ' ORDER BY x.i)
	                  FROM issues, jsonb_array_elements(\"customFields\" -> 'errorTraces')
	                       WITH ORDINALITY AS x(e, i)")
	for i in $(seq 1 22); do
		current=${current//$(burst_time "$i")/$i}
		earlier=${earlier//$(burst_time "$i")/$i}
	done
	echo "$current: $earlier"
}

make_bodies 1 22
DATA=$WORK/data
daemon_start WEBHOOK_SECRET=$SECRET ANSWER_DEADLINE_MS=10000
wait_for 10 database_up || not_ok "the daemon reaches its database"

echo "# 16 Re-Triggered of one alert cycle, at once over 16 connections"
burst 1 16
assert_eq "16 answers" 16 "$(ls "$WORK"/answer_* | wc -l)"
assert_eq "one 201, fifteen 200" "$(printf '200\n%.0s' {1..15}; echo 201)" "$(answers status)"
assert_eq "one created, fifteen updated" "$(echo created; printf 'updated\n%.0s' {1..15})" \
	"$(answers action | sort)"
assert_eq "one isNew" "$(printf 'false\n%.0s' {1..15}; echo true)" "$(answers isNew | sort)"
assert_eq "every answer names SHOP-1" "$(printf 'SHOP-1\n%.0s' {1..16})" "$(answers issueKey)"
assert_eq "each counted once: occurrences 1 to 16" "$(seq 1 16)" "$(answers occurrences)"
assert_eq "none is a redelivery" "$(printf 'null\n%.0s' {1..16})" "$(answers duplicate)"
assert_eq "exactly one issue" 1 "$(issue_count)"
assert_eq "its key" SHOP-1 "$(pg_sql 'SELECT "key" FROM issues')"
assert_eq "errorTrace.occurrenceCount" 16 "$(trace '{errorTrace,occurrenceCount}')"
assert_eq "incident occurrences" "1 16" \
	"$(pg_sql 'SELECT count(*) || $$ $$ || max(occurrences) FROM stride_webhooks.incidents')"
# In whatever order they were stored: the newest is the current trace,
# the fifteen others the earlier ones, newest first.
assert_eq "the latest details, then the 15 earlier occurrences" \
	"16: $(seq -s ' ' 15 -1 1)" "$(traces)"
assert_eq "16 deliveries recorded" 16 "$(pg_sql 'SELECT count(*) FROM stride_webhooks.deliveries')"
assert_eq "no comment" 0 "$(pg_sql 'SELECT count(*) FROM comments')"

echo "# six more at once: errorTraces keeps the 20 latest"
burst 17 22
assert_eq "six 200" "$(printf '200\n%.0s' {1..6})" "$(answers status)"
assert_eq "occurrences 17 to 22" "$(seq 17 22)" "$(answers occurrences)"
assert_eq "still one issue" 1 "$(issue_count)"
assert_eq "errorTrace.occurrenceCount 22" 22 "$(trace '{errorTrace,occurrenceCount}')"
assert_eq "the latest details, then the 20 latest earlier occurrences" \
	"22: $(seq -s ' ' 21 -1 2)" "$(traces)"

echo "# the sixteen again, at once: redeliveries, the first answers, nothing changed"
before=$(pg_sql 'SELECT "updatedAt", "customFields" FROM issues')
burst 1 16
assert_eq "the first answers' statuses" "$(printf '200\n%.0s' {1..15}; echo 201)" \
	"$(answers status)"
assert_eq "the first answers' occurrences" "$(seq 1 16)" "$(answers occurrences)"
assert_eq "all marked duplicate" "$(printf 'true\n%.0s' {1..16})" "$(answers duplicate)"
assert_eq "nothing changed" "$before" "$(pg_sql 'SELECT "updatedAt", "customFields" FROM issues')"

test_finish
