#!/bin/bash
# What the daemon makes of its configuration at start, and of TLS: bad
# secrets and certificates are clear errors, rotation and credentials
# work, TLS 1.2 and 1.3 only, HTTP/2 both ways, and behind a proxy the
# client address comes from X-Forwarded-For of a trusted proxy only.
. "$(dirname "$0")/setup.sh"

BIN=$BUILD_DIR/stride-webhooks
cert_make "$WORK/tls"

# serve_once VAR=value...: starts the daemon on its own port, prints its
# stderr after it exits or after a second, and kills it.
serve_once() {
	local port
	port=$(free_port)
	env -u WEBHOOK_SECRET TLS_CERT_FILE="$WORK/tls/cert.pem" TLS_KEY_FILE="$WORK/tls/key.pem" \
		DATABASE_URL="$DATABASE_URL" STATE_DIRECTORY="$WORK/state" "$@" \
		"$BIN" serve --listen "127.0.0.1:$port" 2>"$WORK/once.log" &
	local pid=$!
	sleep 1
	kill "$pid" 2>/dev/null
	wait "$pid"
	ONCE_STATUS=$?
	ONCE_LOG=$(cat "$WORK/once.log")
}

echo "# configuration errors stop the start with a clear sentence"
serve_once WEBHOOK_SECRET=" "
assert_eq "an empty secret is an error" 1 "$ONCE_STATUS"
assert_contains "it says which variable" "$ONCE_LOG" "WEBHOOK_SECRET is set but empty"
serve_once TLS_KEY_FILE=/nonexistent/key.pem
assert_eq "an unreadable key is an error" 1 "$ONCE_STATUS"
assert_contains "it names the file" "$ONCE_LOG" "/nonexistent/key.pem"
cert_make "$WORK/other"
serve_once TLS_KEY_FILE="$WORK/other/key.pem"
assert_eq "a key that does not match the certificate is an error" 1 "$ONCE_STATUS"
assert_contains "it says they do not match" "$ONCE_LOG" "match"
cert_make "$WORK/soon" 5
serve_once TLS_CERT_FILE="$WORK/soon/cert.pem" TLS_KEY_FILE="$WORK/soon/key.pem"
assert_contains "a certificate expiring within 14 days is a warning at start" "$ONCE_LOG" \
	"expires in"
serve_once
assert_contains "no secret: a warning at every start" "$ONCE_LOG" "no webhook secret for sentry"
serve_once DATABASE_URL='postgresql://webhooks:Sup3r%zzSecretPw@localhost/stride'
assert_contains "a malformed DATABASE_URL is named" "$ONCE_LOG" "DATABASE_URL is not a valid"
assert_not_contains "without its password" "$ONCE_LOG" "Sup3r"


echo "# secrets: rotation and systemd credentials"
mkdir -p "$WORK/creds"
printf 'from-credential\n' >"$WORK/creds/webhook-secret"
daemon_start CREDENTIALS_DIRECTORY="$WORK/creds" WEBHOOK_SECRET_PREVIOUS=old-secret IDLE_TIMEOUT_SEC=0
SECRET=from-credential deliver sentry sentry_issue_created
assert_eq "the secret from the credential is the current one" 201 "$STATUS"
SECRET=old-secret deliver sentry sentry_event_alert_triggered
assert_eq "the previous secret is still accepted" 200 "$STATUS"
SECRET=some-other deliver sentry sentry_issue_assigned
assert_eq "any other secret is not" 401 "$STATUS"
assert_not_contains "no secret in the log" "$(cat "$WORK/daemon.log")" "from-credential"

echo "# TLS versions and ciphers"
tls_ok() { # PRIORITY
	gnutls-cli --x509cafile="$CERT" --priority "$1" -p "$PORT" 127.0.0.1 </dev/null >/dev/null 2>&1
}
tls_ok "NORMAL:-VERS-ALL:+VERS-TLS1.3" && ok "TLS 1.3 is offered" || not_ok "TLS 1.3 is offered"
tls_ok "NORMAL:-VERS-ALL:+VERS-TLS1.2" && ok "TLS 1.2 is offered" || not_ok "TLS 1.2 is offered"
tls_ok "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0" && not_ok "TLS 1.1 is refused" || ok "TLS 1.1 is refused"
tls_ok "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC" &&
	not_ok "CBC suites are refused" || ok "CBC suites are refused"
assert_contains "the TLS failure is logged" "$(cat "$WORK/daemon.log")" "TLS"
daemon_stop

echo "# HTTP/2: off by default, offered with HTTP2=on"
daemon_start IDLE_TIMEOUT_SEC=0
version=$(curl -sS --http2 --cacert "$CERT" -o /dev/null -w '%{http_version}' "$BASE/api/webhooks/sentry")
assert_eq "HTTP2 off: curl --http2 gets HTTP/1.1" 1.1 "$version"
daemon_stop
daemon_start IDLE_TIMEOUT_SEC=0 HTTP2=on
version=$(curl -sS --http2 --cacert "$CERT" -o /dev/null -w '%{http_version}' "$BASE/api/webhooks/sentry")
assert_eq "HTTP2 on: ALPN chooses h2" 2 "$version"
sample_headers datadog "$DATA/datadog/datadog_custom_triggered.json"
request POST /api/webhooks/datadog "$DATA/datadog/datadog_custom_triggered.json" "${HEADERS[@]}" --http2
assert_eq "a delivery over h2 is stored" 201 "$STATUS"
daemon_stop

echo "# behind a proxy: X-Forwarded-For only from TRUSTED_PROXIES"
daemon_start TLS=off IDLE_TIMEOUT_SEC=0 TRUSTED_PROXIES=127.0.0.1
request GET /api/webhooks/nowhere -H 'X-Forwarded-For: 203.0.113.9, 127.0.0.1'
assert_contains "the client address is the forwarded one" "$(cat "$WORK/daemon.log")" \
	"REMOTE_ADDR=203.0.113.9"
daemon_stop
: >"$WORK/daemon.log"
daemon_start TLS=off IDLE_TIMEOUT_SEC=0 TRUSTED_PROXIES=10.0.0.1
request GET /api/webhooks/nowhere -H 'X-Forwarded-For: 203.0.113.9'
assert_not_contains "from an untrusted peer the header is ignored" "$(cat "$WORK/daemon.log")" \
	"203.0.113.9"
daemon_stop

test_finish
