# The real daemon under tests/activate (socket activation as systemd does
# it), and deliveries to it with curl. Needs BUILD_DIR, DATA (tests/data),
# WORK (a scratch folder of the test's own) and DATABASE_URL.

# daemon_start [VAR=value ...]: the extra environment of the daemon.
# Sets PORT, BASE, CERT and ACTIVATOR_PID.
daemon_start() {
	PORT=$(free_port)
	cert_make "$WORK/tls"
	CERT=$WORK/tls/cert.pem
	BASE=https://127.0.0.1:$PORT
	: >"$WORK/events"
	env -u WEBHOOK_SECRET -u STRIDE_PROJECT -u PROJECT_MAP -u CREDENTIALS_DIRECTORY \
		TLS_CERT_FILE="$WORK/tls/cert.pem" TLS_KEY_FILE="$WORK/tls/key.pem" \
		DATABASE_URL="$DATABASE_URL" STATE_DIRECTORY="$WORK/state" "$@" \
		"$BUILD_DIR/tests/activate" -l "127.0.0.1:$PORT" -e "$WORK/events" -- \
		"$BUILD_DIR/stride-webhooks" serve 2>>"$WORK/daemon.log" &
	ACTIVATOR_PID=$!
	for var in "$@"; do
		[ "$var" == TLS=off ] && BASE=http://127.0.0.1:$PORT
	done
	wait_for 5 grep -q '^listening' "$WORK/events"
}

daemon_stop() {
	[ -n "${ACTIVATOR_PID:-}" ] || return 0
	kill "$ACTIVATOR_PID" 2>/dev/null
	wait "$ACTIVATOR_PID" 2>/dev/null
	ACTIVATOR_PID=
}

# The pids the activator has started, in order.
daemon_pids() {
	awk '$1 == "started" { print $2 }' "$WORK/events"
}

# request METHOD PATH [BODY_FILE] [curl arguments...]: sets STATUS and BODY.
request() {
	local method=$1 path=$2 file=${3:--} out
	if [[ $file == -?* ]]; then
		file=-
		shift 2
	else
		shift $(($# < 3 ? $# : 3))
	fi
	local data=()
	[ "$file" != - ] && data=(--data-binary "@$file")
	out=$(curl -sS -m 10 --cacert "$CERT" -X "$method" "${data[@]}" \
		-w '\n%{http_code}' "$@" "$BASE$path" 2>"$WORK/curl.err")
	STATUS=${out##*$'\n'}
	BODY=${out%$'\n'*}
	[ "$BODY" != "$STATUS" ] || BODY=
}

hmac_hex() { # SECRET FILE
	openssl dgst -sha256 -hmac "$1" -r "$2" | cut -d' ' -f1
}

# The sample's own headers (tests/data/P/NAME.headers) less the ones curl
# sets and the placeholders, with Sentry-Hook-Timestamp as Sentry would
# send it now, plus credentials for $SECRET when it is set:
# Sentry signs, Datadog uses Basic as its URL user:password@ does, New
# Relic a Bearer token.
sample_headers() { # PROVIDER FILE
	local line
	HEADERS=()
	while IFS= read -r line; do
		case $line in
		'#'* | '' | Host:* | Content-Length:* | Authorization:* | Sentry-Hook-Signature:*) ;;
		Sentry-Hook-Timestamp:*) HEADERS+=(-H "Sentry-Hook-Timestamp: $(date +%s)") ;;
		*) HEADERS+=(-H "$line") ;;
		esac
	done <"${2%.json}.headers"
	[ -n "${SECRET:-}" ] || return 0
	case $1 in
	sentry) HEADERS+=(-H "Sentry-Hook-Signature: $(hmac_hex "$SECRET" "$2")") ;;
	datadog) HEADERS+=(-u "datadog:$SECRET") ;;
	newrelic) HEADERS+=(-H "Authorization: Bearer $SECRET") ;;
	esac
}

# deliver PROVIDER SAMPLE [QUERY]: POSTs tests/data/PROVIDER/SAMPLE.json.
deliver() {
	local file=$DATA/$1/$2.json
	sample_headers "$1" "$file"
	request POST "/api/webhooks/$1${3:-}" "$file" "${HEADERS[@]}"
}

# A field of the last answer's JSON.
field() {
	jq -r ".$1" <<<"$BODY" 2>/dev/null
}
