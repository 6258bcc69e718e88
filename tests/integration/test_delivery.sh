#!/bin/bash
# The whole path for each provider over real TLS into a real PostgreSQL:
# signatures, the answers of DESIGN section 6, occurrences, redeliveries,
# bad bodies, and the idle exit with socket activation.
. "$(dirname "$0")/setup.sh"

SECRET=integration-secret-0123456789
daemon_start WEBHOOK_SECRET=$SECRET IDLE_TIMEOUT_SEC=3

echo "# GET verifies the endpoint"
request GET /api/webhooks/sentry
assert_eq "GET sentry endpoint status" 200 "$STATUS"
assert_eq "GET says authentication is required" required "$(field authentication)"
assert_eq "GET names the provider" sentry "$(field provider)"

echo "# a wrong or missing signature changes nothing"
saved=$SECRET
SECRET=not-the-secret deliver sentry sentry_issue_created
assert_eq "wrong signature status" 401 "$STATUS"
assert_contains "wrong signature says why" "$(field error)" "signature does not match"
SECRET= deliver sentry sentry_issue_created
assert_eq "missing signature status" 401 "$STATUS"
assert_eq "no issue after refused deliveries" 0 "$(issue_count)"
SECRET=$saved

echo "# a signed issue.created creates the issue"
deliver sentry sentry_issue_created
first_body=$BODY
assert_eq "issue.created status" 201 "$STATUS"
assert_eq "issue.created action" created "$(field action)"
assert_eq "issue.created isNew" true "$(field isNew)"
assert_eq "issue.created key" SHOP-1 "$(field issueKey)"
assert_eq "one issue row" 1 "$(issue_count)"
row=$(pg_sql "SELECT \"key\", \"title\", \"priority\", \"status\", \"type\", \"reporterId\" FROM issues")
assert_eq "issue row" "SHOP-1|PaymentError: Zahlung fehlgeschlagen für Bestellung #A-1042 💥|High|Backlog|Bug|u-admin" "$row"
assert_eq "errorTrace service" Sentry \
	"$(pg_sql "SELECT \"customFields\"->'errorTrace'->>'service' FROM issues")"

echo "# the event_alert for the same Sentry issue is its second occurrence"
deliver sentry sentry_event_alert_triggered
assert_eq "event_alert status" 200 "$STATUS"
assert_eq "event_alert isNew" false "$(field isNew)"
assert_eq "event_alert same key" SHOP-1 "$(field issueKey)"
assert_eq "event_alert occurrences" 2 "$(field occurrences)"
assert_eq "errorTrace occurrenceCount" 2 \
	"$(pg_sql "SELECT \"customFields\"->'errorTrace'->>'occurrenceCount' FROM issues")"
assert_eq "still one issue" 1 "$(issue_count)"
assert_contains "description has the stack trace" \
	"$(pg_sql "SELECT \"description\" FROM issues")" "payment.py"

echo "# the first body again is a redelivery: the first answer, nothing changed"
before=$(pg_sql "SELECT \"updatedAt\", \"customFields\" FROM issues")
deliver sentry sentry_issue_created
assert_eq "redelivery status" 201 "$STATUS"
assert_eq "redelivery key" SHOP-1 "$(field issueKey)"
assert_eq "redelivery is marked" true "$(field duplicate)"
assert_eq "redelivery action is the first one" "$(jq -r .action <<<"$first_body")" "$(field action)"
assert_eq "redelivery changed nothing" "$before" "$(pg_sql "SELECT \"updatedAt\", \"customFields\" FROM issues")"

echo "# bodies that are not alerts"
printf 'this is not json' >"$WORK/notjson"
request POST /api/webhooks/datadog "$WORK/notjson" -u "dd:$SECRET" -H 'Content-Type: application/json'
assert_eq "not JSON status" 400 "$STATUS"
assert_contains "not JSON names the byte offset" "$(field error)" "byte"
python3 -c 'import sys; sys.stdout.write("[" * 1000000)' >"$WORK/deep"
request POST /api/webhooks/newrelic "$WORK/deep" -H "Authorization: Bearer $SECRET"
assert_eq "1 MB deeply nested JSON is refused with a 4xx" 4 "${STATUS:0:1}"
printf '{"test":"webhook"}' >"$WORK/test"
request POST /api/webhooks/newrelic "$WORK/test" -H "Authorization: Bearer $SECRET"
assert_eq "setup test status" 200 "$STATUS"
assert_eq "setup test is a test" true "$(field test)"
request POST /api/webhooks/sentry "$WORK/test" -H 'Content-Type: application/json'
assert_eq "the setup guide's unsigned check is answered" 200 "$STATUS"
assert_eq "as a test" true "$(field test)"
printf '{"test":"webhook","data":{"issue":{"id":"1","title":"x"}}}' >"$WORK/nottest"
request POST /api/webhooks/sentry "$WORK/nottest" -H 'Content-Type: application/json'
assert_eq "anything more than the check still needs credentials" 401 "$STATUS"
assert_eq "no issue from bad bodies and tests" 1 "$(issue_count)"

echo "# the other providers"
deliver datadog datadog_custom_triggered
assert_eq "datadog status" 201 "$STATUS"
assert_eq "datadog key" SHOP-2 "$(field issueKey)"
deliver newrelic newrelic_workflow_activated
assert_eq "newrelic status" 201 "$STATUS"
assert_eq "newrelic key" SHOP-3 "$(field issueKey)"
assert_eq "datadog priority from P2" High \
	"$(pg_sql "SELECT \"priority\" FROM issues WHERE \"key\" = 'SHOP-2'")"
assert_eq "newrelic priority from CRITICAL" Critical \
	"$(pg_sql "SELECT \"priority\" FROM issues WHERE \"key\" = 'SHOP-3'")"

echo "# the log names what happened"
log=$(cat "$WORK/daemon.log")
assert_contains "stored delivery logged with its key" "$log" "ISSUE_KEY=SHOP-1"
assert_contains "auth failure logged with the provider" "$log" "PROVIDER=sentry"
assert_contains "auth failure logged with the reason" "$log" "REASON=signature does not match"
assert_not_contains "the secret is never logged" "$log" "$SECRET"

echo "# idle exit: status 0, the socket stays, the next connection starts a new process"
first_pid=$(daemon_pids | head -n 1)
wait_for 15 grep -q "^exited $first_pid" "$WORK/events"
assert_eq "first process exited with 0 after IDLE_TIMEOUT_SEC" "exited $first_pid 0" \
	"$(grep "^exited $first_pid" "$WORK/events")"
assert_contains "it said READY=1" "$(cat "$WORK/events")" "notify $first_pid READY=1"
assert_contains "it said STOPPING=1" "$(cat "$WORK/events")" "notify $first_pid STOPPING=1"
request GET /api/webhooks/datadog
assert_eq "a new connection to the same socket is answered" 200 "$STATUS"
second_pid=$(daemon_pids | sed -n 2p)
assert_ne "by a new process" "$first_pid" "${second_pid:-none}"

test_finish
