#!/bin/bash
# The demo: installs what it needs, builds, starts a throwaway PostgreSQL
# with Stride's tables, one project and one admin, makes a self-signed
# certificate, starts stride-webhooks through socket activation on a
# loopback port with a secret set, delivers signed sample webhooks of all
# three providers, prints each answer and then the issues they created,
# and cleans up after itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. tests/lib/common.sh
. tests/lib/cert.sh
. tests/lib/pg.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing build and run dependencies (Debian packages)"
bash tests/deps.sh

step "Building"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
[ -d "$BUILD_DIR" ] || meson setup "$BUILD_DIR" >/dev/null
ninja -C "$BUILD_DIR" >/dev/null
BIN=$BUILD_DIR/stride-webhooks
echo "built $BIN"

WORK=$(mktemp -d /tmp/stride-demo.XXXXXX)
chmod 755 "$WORK"
DAEMON_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	pg_stop "$WORK/pg"
	rm -rf "$WORK"
}
trap cleanup EXIT

step "Starting a throwaway PostgreSQL (Unix socket in $WORK/pg)"
pg_start "$WORK/pg"
"$BIN" migrate --stride-schema
pg_sql "INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", \"updatedAt\")
        VALUES ('demo-project', 'SHOP', 'Shop', '', now());
        INSERT INTO users (\"id\", \"email\", \"username\", \"passwordHash\", \"role\", \"updatedAt\")
        VALUES ('demo-admin', 'admin@example.com', 'admin', 'x', 'Admin', now());" >/dev/null
echo "project SHOP and an Admin user created"

step "Starting stride-webhooks through socket activation (systemd-socket-activate)"
SECRET=$(openssl rand -hex 24)
PORT=$(free_port)
cert_make "$WORK/tls"
CERT=$WORK/tls/cert.pem
systemd-socket-activate -l "127.0.0.1:$PORT" \
	-E DATABASE_URL="$DATABASE_URL" -E WEBHOOK_SECRET="$SECRET" \
	-E TLS_CERT_FILE="$WORK/tls/cert.pem" -E TLS_KEY_FILE="$WORK/tls/key.pem" \
	-E STATE_DIRECTORY="$WORK/state" -E IDLE_TIMEOUT_SEC=0 \
	"$BIN" serve 2>"$WORK/daemon.log" &
DAEMON_PID=$!
wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" || { echo "socket not listening"; exit 1; }
echo "listening on https://127.0.0.1:$PORT (the daemon starts on the first connection)"

# The samples come with their providers' own headers; credentials are
# what each provider can send: Sentry signs the body, Datadog uses
# user:secret@ in the URL (Basic), New Relic a Bearer token.
send() { # PROVIDER SAMPLE
	local provider=$1 file=tests/data/$1/$2.json auth=() headers=() line
	while IFS= read -r line; do
		case $line in
		'#'* | '' | Host:* | Content-Length:* | Authorization:* | Sentry-Hook-Signature:*) ;;
		Sentry-Hook-Timestamp:*) headers+=(-H "Sentry-Hook-Timestamp: $(date +%s)") ;;
		*) headers+=(-H "$line") ;;
		esac
	done <"${file%.json}.headers"
	case $provider in
	sentry) auth=(-H "Sentry-Hook-Signature: $(openssl dgst -sha256 -hmac "$SECRET" -r "$file" | cut -d' ' -f1)") ;;
	datadog) auth=(-u "datadog:$SECRET") ;;
	newrelic) auth=(-H "Authorization: Bearer $SECRET") ;;
	esac
	printf '%-9s %-38s -> ' "$provider" "$2"
	curl -sS --cacert "$CERT" "${headers[@]}" "${auth[@]}" --data-binary "@$file" \
		-w ' (HTTP %{http_code})\n' "https://127.0.0.1:$PORT/api/webhooks/$provider"
}

step "Checking the endpoint as Stride's setup guide does"
curl -sS --cacert "$CERT" "https://127.0.0.1:$PORT/api/webhooks/sentry"
echo
curl -sS --cacert "$CERT" -X POST -H "Content-Type: application/json" \
	-d '{"test": "webhook"}' "https://127.0.0.1:$PORT/api/webhooks/sentry"
echo

step "Delivering sample webhooks"
send sentry sentry_issue_created
send sentry sentry_event_alert_triggered
send sentry sentry_issue_assigned
send sentry sentry_issue_resolved
send datadog datadog_custom_triggered
send datadog datadog_custom_recovered
send datadog datadog_test_notification
send newrelic newrelic_workflow_activated
send newrelic newrelic_legacy_channel_open
send newrelic newrelic_legacy_test_notification
echo "and one with a wrong signature:"
SECRET=wrong send sentry sentry_issue_created || true

step "The issues in Stride's database"
psql -X -q -P pager=off -c "
  SELECT i.\"key\", left(i.\"title\", 60) AS title, i.\"priority\", i.\"status\",
         i.\"customFields\"->'errorTrace'->>'service' AS provider,
         i.\"customFields\"->'errorTrace'->>'occurrenceCount' AS occurrences
    FROM issues i ORDER BY i.\"createdAt\", i.\"key\""

step "What the daemon logged (stderr here; the journal under systemd)"
cat "$WORK/daemon.log"
