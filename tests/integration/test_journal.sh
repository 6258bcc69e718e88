#!/bin/bash
# The journal entries a delivery leaves, read back with journalctl from a
# private journald (notes/systemd-container.md): the fields of DESIGN
# section 8 on each entry, a fixed MESSAGE_ID per kind, and nothing secret.
if [ -z "${IN_PRIVATE_NS:-}" ]; then
	command -v unshare >/dev/null && [ -x /lib/systemd/systemd-journald ] || {
		echo "skipped: needs unshare and systemd-journald"
		exit 77
	}
	IN_PRIVATE_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/setup.sh"

journal_start() {
	mkdir -p "$WORK/journal"
	mount -t tmpfs tmpfs /run
	mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d
	printf '[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\n' \
		>/run/systemd/journald.conf.d/test.conf
	mount --bind "$WORK/journal" /run/log/journal
	/lib/systemd/systemd-journald >"$WORK/journald.log" 2>&1 &
	JOURNALD_PID=$!
	wait_for 10 test -S /run/systemd/journal/socket
}

journal_json() {
	journalctl --sync 2>/dev/null
	journalctl -D "$WORK/journal" -o json SYSLOG_IDENTIFIER=stride-webhooks 2>/dev/null
}

journal_start || { echo "journald did not start"; exit 1; }
trap 'kill $JOURNALD_PID 2>/dev/null; cleanup' EXIT

SECRET=journal-secret-77
daemon_start WEBHOOK_SECRET=$SECRET IDLE_TIMEOUT_SEC=0
deliver sentry sentry_issue_created
assert_eq "stored" 201 "$STATUS"
SECRET=wrong deliver datadog datadog_custom_triggered
assert_eq "refused" 401 "$STATUS"
wait_for 5 bash -c "journalctl --sync; journalctl -D '$WORK/journal' -o json | grep -q 'ISSUE_KEY'"

entries=$(journal_json)
stored=$(jq -c 'select(.ISSUE_KEY == "SHOP-1")' <<<"$entries" | head -n 1)
assert_ne "an entry for the stored delivery" "" "$stored"
assert_eq "PROVIDER" sentry "$(jq -r .PROVIDER <<<"$stored")"
assert_eq "ACTION" created "$(jq -r .ACTION <<<"$stored")"
assert_eq "HTTP_STATUS" 201 "$(jq -r .HTTP_STATUS <<<"$stored")"
assert_eq "REMOTE_ADDR" 127.0.0.1 "$(jq -r .REMOTE_ADDR <<<"$stored")"
assert_eq "REQUEST_ID is Sentry's Request-ID" 5f0c7e3c2a9b4d8e9f1a2b3c4d5e6f70 \
	"$(jq -r .REQUEST_ID <<<"$stored")"
assert_contains "EXTERNAL_ID" "$(jq -r .EXTERNAL_ID <<<"$stored")" "issue:4711001"
assert_ne "ISSUE_ID" null "$(jq -r .ISSUE_ID <<<"$stored")"
assert_ne "DURATION_USEC" null "$(jq -r .DURATION_USEC <<<"$stored")"
assert_eq "priority info" 6 "$(jq -r .PRIORITY <<<"$stored")"
assert_eq "MESSAGE_ID of a stored delivery" 5cfbf82c0ab3489fbdfd4f95211e7b7f \
	"$(jq -r .MESSAGE_ID <<<"$stored")"
assert_contains "the message says webhook" "$(jq -r .MESSAGE <<<"$stored")" "webhook"

refused=$(jq -c 'select(.HTTP_STATUS == "401")' <<<"$entries" | head -n 1)
assert_eq "the refusal names the provider" datadog "$(jq -r .PROVIDER <<<"$refused")"
assert_eq "and the scheme tried" basic "$(jq -r .AUTH_SCHEME <<<"$refused")"
assert_eq "MESSAGE_ID of an authentication failure" 1d29251d17ab442ba8485fd31d31c8ad \
	"$(jq -r .MESSAGE_ID <<<"$refused")"
assert_eq "priority notice" 5 "$(jq -r .PRIORITY <<<"$refused")"

started=$(jq -c 'select(.MESSAGE_ID == "c65de684bb3746d9baf1a1100de1e346")' <<<"$entries")
assert_ne "a started entry" "" "$started"
assert_not_contains "no secret anywhere in the journal" "$entries" "$SECRET"
assert_not_contains "no Authorization header in the journal" "$entries" "Basic "
assert_eq "nothing on stderr while a journal runs" 0 "$(grep -c 'webhook delivery' "$WORK/daemon.log")"

test_finish
