# A self-signed certificate for 127.0.0.1 and localhost, for the tests and
# the demo: cert_make DIR writes DIR/cert.pem and DIR/key.pem.
cert_make() { # DIR [DAYS]
	local dir=$1 days=${2:-30}
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" -days "$days" \
		-subj "/CN=localhost" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
}
