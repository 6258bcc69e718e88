#!/bin/bash
# Each limit and refusal against the real binary over TLS: the status,
# that no row was written, and that the log line names the reason.
. "$(dirname "$0")/setup.sh"

SECRET=limits-secret-5f1c9a
daemon_start WEBHOOK_SECRET=$SECRET IDLE_TIMEOUT_SEC=0 MAX_BODY_BYTES=65536 \
	TLS_HANDSHAKE_TIMEOUT_MS=1000 REQUEST_TIMEOUT_MS=1500 MAX_CONNECTIONS=16 \
	MAX_REQUESTS_PER_CONNECTION=3 AUTH_FAILURES_PER_MINUTE=5

log() { cat "$WORK/daemon.log"; }

echo "# body over MAX_BODY_BYTES, told by Content-Length"
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
request POST /api/webhooks/sentry "$WORK/big" -H 'Content-Type: application/json'
assert_eq "413 from Content-Length" 413 "$STATUS"
assert_contains "logged with the reason" "$(log)" "body larger than MAX_BODY_BYTES"

echo "# body over MAX_BODY_BYTES, chunked"
request POST /api/webhooks/sentry "$WORK/big" -H 'Content-Type: application/json' \
	-H 'Transfer-Encoding: chunked'
assert_eq "413 while reading a chunked body" 413 "$STATUS"
assert_eq "no row after 413s" 0 "$(issue_count)"

echo "# JSON nesting and number of values"
python3 -c 'import sys; sys.stdout.write("[" * 100 + "]" * 100)' >"$WORK/deep"
request POST /api/webhooks/newrelic "$WORK/deep" -H "Authorization: Bearer $SECRET"
assert_eq "too deep: 400" 400 "$STATUS"
assert_contains "the answer names the depth" "$(field error)" "nested deeper than"
python3 -c 'import sys; sys.stdout.write("[" + ",".join(["1"] * 30000) + "]")' >"$WORK/many"
request POST /api/webhooks/newrelic "$WORK/many" -H "Authorization: Bearer $SECRET"
assert_eq "a 60 KB array of small values is still parsed (then refused as no alert)" 422 "$STATUS"
assert_eq "no row after JSON limits" 0 "$(issue_count)"

echo "# wrong path and method"
request GET /api/webhooks/pagerduty
assert_eq "unknown path: 404" 404 "$STATUS"
assert_contains "404 names the endpoints" "$(field error)" "/api/webhooks/sentry"
request PUT /api/webhooks/sentry
assert_eq "wrong method: 405" 405 "$STATUS"
allow=$(curl -sS -D - -o /dev/null --cacert "$CERT" -X DELETE "$BASE/api/webhooks/datadog" |
	tr -d '\r' | awk -F': ' 'tolower($1) == "allow" { print $2 }')
assert_eq "405 says what is allowed" "GET, HEAD, POST" "$allow"
request HEAD /api/webhooks/newrelic -I
assert_eq "HEAD on an endpoint: 200" 200 "$STATUS"

echo "# a replayed Sentry delivery (timestamp outside REPLAY_WINDOW_SEC)"
file=$DATA/sentry/sentry_issue_created.json
sig=$(hmac_hex "$SECRET" "$file")
request POST /api/webhooks/sentry "$file" -H 'Content-Type: application/json' \
	-H "Sentry-Hook-Signature: $sig" -H "Sentry-Hook-Timestamp: $(($(date +%s) - 200000))"
assert_eq "stale timestamp: 401" 401 "$STATUS"
assert_contains "the answer says why" "$(field error)" "REPLAY_WINDOW_SEC"
assert_eq "no row after a replay" 0 "$(issue_count)"

echo "# failed authentication is rate limited; valid credentials never are"
for i in 1 2 3 4 5; do
	request POST /api/webhooks/sentry "$file" -H 'Sentry-Hook-Signature: 00'
done
assert_eq "the 5th failure still gets 401" 401 "$STATUS"
request POST /api/webhooks/sentry "$file" -H 'Sentry-Hook-Signature: 00'
assert_eq "the 6th failure within a minute gets 429" 429 "$STATUS"
retry=$(curl -sS -D - -o /dev/null --cacert "$CERT" -X POST --data-binary "@$file" \
	-H 'Sentry-Hook-Signature: 00' "$BASE/api/webhooks/sentry" |
	tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')
assert_ne "429 has a Retry-After" "" "$retry"
assert_eq "429 is logged once per address and minute" 1 \
	"$(grep -c 'too many failed authentications from 127.0.0.1' "$WORK/daemon.log")"
deliver sentry sentry_issue_created
assert_eq "a signed delivery from the same address still gets 201" 201 "$STATUS"

echo "# keep-alive request limit"
out=$(curl -sv --cacert "$CERT" "$BASE/api/webhooks/sentry" "$BASE/api/webhooks/sentry" \
	"$BASE/api/webhooks/sentry" "$BASE/api/webhooks/sentry" 2>&1 >/dev/null)
assert_eq "after MAX_REQUESTS_PER_CONNECTION the connection closes and curl reconnects" 2 \
	"$(grep -c 'Connected to 127.0.0.1' <<<"$out")"

echo "# a TLS handshake that never comes"
python3 - "$PORT" >"$WORK/silent" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
start = time.time()
try:
    data = s.recv(1)
except Exception:
    data = b"timeout"
print("closed" if data == b"" else "open", round(time.time() - start))
PY
assert_eq "a silent client is closed by the handshake deadline" closed "$(cut -d' ' -f1 "$WORK/silent")"
assert_contains "the log names the handshake" "$(log)" "handshake"

echo "# a request head that never ends"
python3 - "$PORT" "$CERT" >"$WORK/slowhead" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1")
s.sendall(b"POST /api/webhooks/sentry HTTP/1.1\r\nHost: x\r\n")
s.settimeout(10)
try:
    data = s.recv(4096)
    while data and b"\r\n\r\n" not in data:
        data += s.recv(4096)
except Exception:
    data = b"timeout"
print(data.split(b"\r\n")[0].decode() if data else "closed")
PY
assert_ne "a slow request head does not hold the connection for ever" timeout "$(cat "$WORK/slowhead")"

echo "# many slow connections from one address leave room for the providers"
python3 - "$PORT" "$CERT" >"$WORK/slow" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
held, refused = [], 0
for i in range(40):
    try:
        raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.2", 0))
        held.append(ctx.wrap_socket(raw, server_hostname="127.0.0.1"))
        held[-1].sendall(b"POST /api/webhooks/sentry HTTP/1.1\r\nHost: x\r\n")
    except Exception:
        refused += 1
print(len(held), refused, flush=True)
time.sleep(3)
PY
slow_pid=$!
sleep 1.5
deliver datadog datadog_custom_triggered
assert_eq "a genuine delivery gets its 201 while 127.0.0.2 holds slow connections" 201 "$STATUS"
wait $slow_pid
held=$(cut -d' ' -f1 "$WORK/slow")
assert_eq "127.0.0.2 held at most a share of MAX_CONNECTIONS" 4 "$held"
assert_contains "the refusal is logged with the address" "$(log)" \
	"webhook connection from 127.0.0.2 refused"

echo "# limits h2o enforces itself: its 400 stands, the connection is logged"
python3 - "$PORT" "$CERT" >"$WORK/h2o" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
def ask(head):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])),
                        source_address=("127.0.0.4", 0)), server_hostname="127.0.0.1")
    s.sendall(head)
    s.settimeout(5)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except Exception:
        pass
    return data.split(b"\r\n")[0].decode() or "closed"
print(ask(b"GET /api/webhooks/sentry HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 500000 + b"\r\n\r\n"))
print(ask(b"GET /api/webhooks/sentry HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n"))
PY
assert_eq "a request head over h2o's limit (about 400 KiB) gets h2o's 400" "HTTP/1.1 400 Bad Request" "$(sed -n 1p "$WORK/h2o")"
assert_eq "too many headers get h2o's 400" "HTTP/1.1 400 Bad Request" "$(sed -n 2p "$WORK/h2o")"
assert_contains "the connection is logged, once for the address" "$(log)" \
	"webhook connection from 127.0.0.4 closed before any request reached the daemon"
assert_eq "once a minute per address" 1 "$(grep -c 'from 127.0.0.4 closed before' "$WORK/daemon.log")"

echo "# failed TLS handshakes are rate limited per address"
python3 - "$PORT" >"$WORK/hs" <<'PY'
import socket, sys, time
refused = 0
for i in range(40):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.5", 0))
    s.sendall(b"\x16\x03\x01\x00\x05hello")   # a broken ClientHello
    s.settimeout(3)
    try:
        s.recv(100)
    except Exception:
        pass
    s.close()
    time.sleep(0.02)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.5", 0))
s.settimeout(3)
try:
    print("closed" if s.recv(1) == b"" else "open")
except Exception:
    print("open")
PY
assert_eq "after too many failed handshakes the address is turned away at once" closed "$(cat "$WORK/hs")"
assert_contains "that is logged with the address" "$(log)" \
	"webhook connections from 127.0.0.5 refused"
deliver newrelic newrelic_workflow_activated
assert_eq "other addresses are still served" 201 "$STATUS"

echo "# one client cannot flood the log with refusals"
before=$(wc -l <"$WORK/daemon.log")
python3 - "$PORT" "$CERT" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.6", 0)),
                    server_hostname="127.0.0.1")
for i in range(2):     # at most MAX_REQUESTS_PER_CONNECTION (3) on a connection
    s.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
for n in range(150):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), source_address=("127.0.0.6", 0)),
                        server_hostname="127.0.0.1")
    s.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(4096):
        pass
PY
from6=$(tail -n +$((before + 1)) "$WORK/daemon.log" | grep -c 'from 127.0.0.6')
assert_eq "152 refusals from one address leave 60 lines and one that says the rest is not logged" 61 "$from6"
assert_contains "that line says so" "$(log)" "webhook requests from 127.0.0.6: more than 60 refusals"

echo "# a token with a NUL byte in the query string is no token"
request POST "/api/webhooks/sentry?token=$SECRET%00junk" "$DATA/sentry/sentry_issue_created.json" \
	--interface 127.0.0.7
assert_eq "?token=SECRET%00junk is refused" 401 "$STATUS"

echo "# log hygiene: client strings are escaped and cut"
request GET "/api/webhooks/%1b%5b31mred$(head -c 3000 /dev/zero | tr '\0' 'x')"
assert_eq "an odd path gets 404" 404 "$STATUS"
assert_not_contains "no raw escape character reaches the log" "$(log)" $'\x1b'
assert_eq "no log line is longer than 4 KiB" 0 "$(awk 'length($0) > 4096' "$WORK/daemon.log" | wc -l)"
assert_not_contains "the secret is never logged" "$(log)" "$SECRET"

test_finish
