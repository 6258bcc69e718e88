#!/bin/bash
# Every sample of tests/data and every sequence of tests/data/sequences
# (the format is in its README.md), each sequence against a fresh daemon
# and a fresh database: per step the answer (status, action, isNew, the
# issue key), then from PostgreSQL the issue's title, priority, status,
# closedAt, occurrence count (errorTrace and the daemon's incident row),
# the comment the step added, and the number of issues and comments. Every
# stored step is delivered a second time at once: the first answer again,
# marked duplicate, and nothing changed.
. "$(dirname "$0")/setup.sh"

SECRET=sequences-secret-7d41c9a0e2b5
SEQUENCES=${SEQUENCES:-$DATA/sequences}

# The samples and the sequences' own bodies in one folder per provider,
# where deliver finds them.
prepare_data() {
	local p f
	for p in sentry datadog newrelic; do
		mkdir -p "$WORK/data/$p"
		for f in "$DATA/$p"/*.json "$SEQUENCES/bodies/$p"/*.json; do
			[ -f "$f" ] || continue
			if [ -e "$WORK/data/$p/$(basename "$f")" ]; then
				echo "sample $(basename "$f") is in two places" >&2
				return 1
			fi
			cp "$f" "${f%.json}.headers" "$WORK/data/$p/"
		done
	done
	DATA=$WORK/data
}

q() {
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

admin_sql() {
	"$PG_BIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 -c "$1"
}

# Stride's database as setup.sh left it (the schemas, one project SHOP
# and one Admin), kept as the template of each sequence's fresh copy.
keep_template() {
	admin_sql 'CREATE DATABASE stride_template TEMPLATE stride'
}

# Drops and recreates Stride's database from the template, plus the
# projects the sequence asks for.
fresh_database() {
	local key
	admin_sql 'DROP DATABASE IF EXISTS stride WITH (FORCE)' || return 1
	admin_sql 'CREATE DATABASE stride TEMPLATE stride_template' || return 1
	for key in "${SEQ_PROJECTS[@]}"; do
		q "INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", \"updatedAt\")
		   VALUES ('p-${key,,}', '$key', '$key', '', now())" || return 1
	done
}

database_up() {
	request GET /api/webhooks/health
	[ "$STATUS" == 200 ]
}

# The first step of a sequence starts its daemon, on a fresh database,
# and waits until the daemon has its database: the answers are then the
# store's, never the spool's.
sequence_start() {
	if ! fresh_database; then
		not_ok "$SEQ: fresh database"
		return 1
	fi
	rm -rf "$WORK/state"
	daemon_start WEBHOOK_SECRET=$SECRET "${SEQ_ENV[@]}" || {
		not_ok "$SEQ: daemon started"
		return 1
	}
	wait_for 10 database_up || not_ok "$SEQ: the daemon reaches its database"
	SEQ_STARTED=1
}

sequence_end() {
	[ "${SEQ_STARTED:-0}" -eq 1 ] && daemon_stop
	SEQ_STARTED=0
}

sequence_begin() { # NAME
	sequence_end
	SEQ=$1
	SEQ_ENV=()
	SEQ_PROJECTS=()
	SEQ_STEP=0
	echo "# == $SEQ"
}

# Everything a redelivery must leave as it was.
snapshot() {
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-c "SELECT \"key\", \"title\", \"status\", \"priority\", \"description\",
		           \"updatedAt\", \"closedAt\", \"customFields\" FROM issues ORDER BY \"key\"" \
		-c 'SELECT count(*) FROM comments' \
		-c "SELECT provider, external_id, coalesce(issue_id, '-'), state, occurrences,
		           last_event_ms FROM stride_webhooks.incidents ORDER BY 1, 2" \
		-c 'SELECT count(*) FROM stride_webhooks.deliveries'
}

counts() {
	q "SELECT (SELECT count(*) FROM issues) || ' ' || (SELECT count(*) FROM comments)
	       || ' ' || (SELECT count(*) FROM stride_webhooks.incidents)
	       || ' ' || (SELECT count(*) FROM stride_webhooks.deliveries)"
}

# deliver, with the secret put in for the word SECRET in the query: such
# a delivery (Sentry's WebHooks plugin) carries no other credentials. The
# answer's members go into ANSWER, read with field.
send() { # PROVIDER SAMPLE [QUERY]
	local k v query=${3:-}
	if [[ $query == *SECRET* ]]; then
		query=${query//SECRET/$SECRET}
		SECRET='' deliver "$1" "$2" "$query"
	else
		deliver "$1" "$2" "${3:-}"
	fi
	ANSWER=()
	while IFS=$'\t' read -r k v; do
		ANSWER[$k]=$v
	done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' <<<"$BODY" 2>/dev/null)
}

# A member of the last answer, "null" when it has none (as jq says).
field() {
	echo "${ANSWER[$1]-null}"
}

# Splits "A | b=1 | c=two words" into E_HEAD (A) and the map E.
parse_expectations() { # TEXT
	local rest="$1 | " f
	E_HEAD=${rest%%' | '*}
	rest=${rest#*' | '}
	E=()
	while [[ $rest == *' | '* ]]; do
		f=${rest%%' | '*}
		rest=${rest#*' | '}
		E[${f%%=*}]=${f#*=}
	done
}

expect() { # KEY: the expectation, which the step line must give
	if [ -z "${E[$1]+set}" ]; then
		not_ok "$WHAT: the step line has no $1="
		return 1
	fi
}

check_totals() {
	expect issues && assert_eq "$WHAT issues" "${E[issues]}" "$(q 'SELECT count(*) FROM issues')"
	expect comments && assert_eq "$WHAT comments" "${E[comments]}" \
		"$(q 'SELECT count(*) FROM comments')"
}

# The issue's row: id, title, priority, status, closed, occurrenceCount
# and the occurrences of its incident, one per line.
issue_row() { # KEY
	"$PG_BIN/psql" -X -q -At -F $'\n' -v ON_ERROR_STOP=1 -c "
	   SELECT i.\"id\", i.\"title\", i.\"priority\", i.\"status\",
	          CASE WHEN i.\"closedAt\" IS NULL THEN 'no' ELSE 'yes' END,
	          i.\"customFields\" #>> '{errorTrace,occurrenceCount}',
	          (SELECT string_agg(n.occurrences::text, ',')
	           FROM stride_webhooks.incidents n WHERE n.issue_id = i.\"id\")
	   FROM issues i WHERE i.\"key\" = '$1'"
}

check_issue() { # KEY ACTION
	local key=$1 new id title priority status closed count incident
	assert_eq "$WHAT isNew" "$([ "$2" == created ] && echo true || echo false)" "$(field isNew)"
	assert_eq "$WHAT issueKey" "$key" "$(field issueKey)"
	assert_eq "$WHAT duplicate" null "$(field duplicate)"
	{ read -r id; read -r title; read -r priority; read -r status; read -r closed
	  read -r count; read -r incident; } < <(issue_row "$key")
	assert_eq "$WHAT issueId" "${id:-no such issue}" "$(field issueId)"
	expect title && assert_eq "$WHAT title" "${E[title]}" "${title:-}"
	expect priority && assert_eq "$WHAT priority" "${E[priority]}" "${priority:-}"
	expect status && assert_eq "$WHAT issue status" "${E[status]}" "${status:-}"
	expect closed && assert_eq "$WHAT closedAt set" "${E[closed]}" "${closed:-}"
	if expect occurrences; then
		assert_eq "$WHAT occurrences answered" "${E[occurrences]}" "$(field occurrences)"
		assert_eq "$WHAT errorTrace.occurrenceCount" "${E[occurrences]}" "${count:-}"
		assert_eq "$WHAT incident occurrences" "${E[occurrences]}" "${incident:-}"
	fi
	if expect comment; then
		new=$(q "SELECT \"content\" || ' (' || \"isSystem\" || ', ' || i.\"key\" || ')'
		         FROM comments c JOIN issues i ON i.\"id\" = c.\"issueId\"
		         WHERE c.\"id\" NOT IN (SELECT unnest(string_to_array('$COMMENTS_BEFORE', ',')))
		         ORDER BY c.\"createdAt\"")
		if [ "${E[comment]}" == - ]; then
			assert_eq "$WHAT adds no comment" "" "$new"
		else
			assert_eq "$WHAT adds the comment" "${E[comment]} (true, $key)" "$new"
		fi
	fi
}

# The same body again: the first answer, marked, and nothing changed.
check_redelivery() { # PROVIDER SAMPLE QUERY
	local status=$STATUS action key occurrences before
	action=$(field action)
	key=$(field issueKey)
	occurrences=$(field occurrences)
	before=$(snapshot)
	send "$@"
	assert_eq "$WHAT again: HTTP status" "$status" "$STATUS"
	assert_eq "$WHAT again: action" "$action" "$(field action)"
	assert_eq "$WHAT again: issueKey" "$key" "$(field issueKey)"
	assert_eq "$WHAT again: occurrences" "$occurrences" "$(field occurrences)"
	assert_eq "$WHAT again: duplicate" true "$(field duplicate)"
	assert_eq "$WHAT again: nothing changed" "$before" "$(snapshot)"
}

# One step: "PROVIDER SAMPLE [QUERY] -> STATUS ACTION KEY | field=value ...".
run_step() { # LINE WHERE
	local left=${1%% -> *} provider sample query status action key before
	read -r provider sample query <<<"$left"
	parse_expectations "${1#* -> }"
	read -r status action key <<<"$E_HEAD"
	SEQ_STEP=$((SEQ_STEP + 1))
	WHAT=$2
	echo "# $WHAT step $SEQ_STEP: $1"
	if [ ! -f "$DATA/$provider/$sample.json" ]; then
		not_ok "$WHAT: no sample $provider/$sample"
		return
	fi
	[ "${SEQ_STARTED:-0}" -eq 1 ] || sequence_start || return

	COMMENTS_BEFORE=$(q "SELECT coalesce(string_agg(\"id\", ','), '') FROM comments")
	before=$(counts)
	send "$provider" "$sample" "$query"
	assert_eq "$WHAT HTTP status" "$status" "$STATUS"
	case $action in
	created | updated | resolved | reopened)
		assert_eq "$WHAT action" "$action" "$(field action)"
		check_issue "$key" "$action"
		check_totals
		check_redelivery "$provider" "$sample" "$query"
		;;
	recorded)
		assert_eq "$WHAT action" recorded "$(field action)"
		assert_eq "$WHAT isNew" false "$(field isNew)"
		assert_eq "$WHAT no issue" null "$(field issueKey)"
		assert_ne "$WHAT remembered" 0 \
			"$(q "SELECT count(*) FROM stride_webhooks.incidents
			      WHERE issue_id IS NULL AND state = 'resolved'")"
		check_totals
		check_redelivery "$provider" "$sample" "$query"
		;;
	test | ignored)
		assert_eq "$WHAT answered as $action" true "$(field "$action")"
		assert_eq "$WHAT no issue" null "$(field issueKey)"
		[ -n "${E[reason]+set}" ] && assert_eq "$WHAT reason" "${E[reason]}" "$(field reason)"
		assert_eq "$WHAT writes nothing" "$before" "$(counts)"
		check_totals
		;;
	error)
		expect error && assert_contains "$WHAT error" "$(field error)" "${E[error]}"
		assert_eq "$WHAT writes nothing" "$before" "$(counts)"
		check_totals
		;;
	*)
		not_ok "$WHAT: unknown action '$action' in the step line"
		;;
	esac
}

run_file() { # FILE
	local line n=0 name
	name=$(basename "$1")
	SEQ=$name
	SEQ_STARTED=0
	SEQ_ENV=()
	SEQ_PROJECTS=()
	SEQ_STEP=0
	# The file on fd 3: nothing a step runs reads it as its stdin.
	while IFS= read -r line <&3 || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in
		'' | '#'*) ;;
		'== '*) sequence_begin "$name:$n ${line#== }" ;;
		'env '*) SEQ_ENV+=("${line#env }") ;;
		'project '*) SEQ_PROJECTS+=("${line#project }") ;;
		'sql '*)
			echo "# $SEQ: ${line#sql }"
			[ "${SEQ_STARTED:-0}" -eq 1 ] || sequence_start || continue
			q "${line#sql }" >/dev/null || not_ok "$name:$n: sql failed"
			;;
		*' -> '*) run_step "$line" "$name:$n" ;;
		*) not_ok "$name:$n: not a step line: $line" ;;
		esac
	done 3<"$1"
	sequence_end
}

declare -A E ANSWER
prepare_data || exit 1
keep_template || exit 1
for file in "$SEQUENCES"/*.txt; do
	run_file "$file"
done

# Every sample is a case of some sequence.
for f in "$TESTS"/data/{sentry,datadog,newrelic}/*.json; do
	name=$(basename "$f" .json)
	if grep -qE "^[a-z]+ $name( |$)" "$SEQUENCES"/*.txt; then
		ok "sample $name is tested"
	else
		not_ok "sample $name is in no sequence"
	fi
done

test_finish
