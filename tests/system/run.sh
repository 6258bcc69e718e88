#!/bin/bash
# The system test. Builds the .deb and the .rpm from a pristine copy of the
# tree, lints both and checks their file lists; then boots Debian 12 with
# systemd as PID 1 in a container, installs the .deb there and does what
# the README's install section says, step by step, against a PostgreSQL
# inside the container: the socket starts the service on the first
# connection, a signed Sentry delivery becomes an issue and a journal
# entry, the service exits on idle and starts again, the same-domain
# drop-ins serve plain HTTP on loopback, and stop, remove and purge leave
# nothing behind. Prints each step it checked and "N passed, N failed".
#
# Needs root, debhelper, lintian, rpm, rpmlint, systemd-container and
# debootstrap (tests/deps.sh installs them). The root file system is
# cached in $STRIDE_TEST_CACHE (default /var/cache/stride-webhooks-test).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SYSTEM=$ROOT/tests/system
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/cert.sh"
. "$SYSTEM/lib/packages.sh"
. "$SYSTEM/lib/rootfs.sh"
. "$SYSTEM/lib/container.sh"

SYSTEM_CACHE=${STRIDE_TEST_CACHE:-/var/cache/stride-webhooks-test}
SECRET=system-test-secret-0123456789abcdef
DB_PASSWORD=system-test-db-password
IDLE=5

if [ "$(id -u)" -ne 0 ]; then
	echo "the system test boots a container and must run as root"
	echo "0 passed, 1 failed"
	exit 1
fi
missing=()
for tool in dpkg-buildpackage lintian rpmbuild rpmlint systemd-nspawn debootstrap \
	nsenter zstd jq openssl; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "missing: ${missing[*]} (tests/deps.sh installs them)"
	echo "0 passed, 1 failed"
	exit 1
fi

WORK=$(mktemp -d /var/tmp/stride-system.XXXXXX)
chmod 755 "$WORK"
cleanup() {
	ct_stop
	rm -rf "$WORK"
}
trap cleanup EXIT

# step WHAT: a heading for the checks that follow.
step() {
	echo "# $*"
}

# ---- the packages ----

VERSION=$(pkg_version)
SRC=$WORK/build/stride-webhooks-$VERSION
DEB=$WORK/build/stride-webhooks_${VERSION}_$(dpkg --print-architecture).deb

step "the packages build from a pristine copy of the tree"
assert_eq "debian/changelog has meson.build's version" "$VERSION" \
	"$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)"
assert_eq "the spec has meson.build's version" "$VERSION" \
	"$(sed -n 's/^Version: *//p' "$ROOT/packaging/stride-webhooks.spec")"
if pkg_source "$SRC"; then ok "source copied"; else not_ok "source copy"; fi
if pkg_build_rpm "$SRC" "$VERSION" "$WORK/rpm"; then
	ok "rpmbuild -bb --nodeps packaging/stride-webhooks.spec builds the .rpm"
else
	not_ok "rpmbuild -bb failed (log above)"
fi
if pkg_build_deb "$SRC" && [ -f "$DEB" ]; then
	ok "dpkg-buildpackage -us -uc -b builds $(basename "$DEB")"
else
	not_ok "dpkg-buildpackage failed (log above)"
	test_finish
	exit 1
fi

step "lintian and rpmlint report no errors"
lintian --fail-on error --pedantic "$WORK/build/stride-webhooks_${VERSION}_"*.changes \
	>"$WORK/lintian.log" 2>&1
assert_eq "lintian exit status (errors fail)" 0 "$?"
grep -v '^running with root' "$WORK/lintian.log" | sed 's/^/# lintian: /'
RPM=$(ls "$WORK"/rpm/RPMS/*/stride-webhooks-"$VERSION"-*.rpm 2>/dev/null | head -n 1)
rpmlint -r "$ROOT/packaging/stride-webhooks.rpmlintrc" \
	"$ROOT/packaging/stride-webhooks.spec" ${RPM:+"$RPM"} >"$WORK/rpmlint.log" 2>&1
rpmlint_rc=$?
grep -E '^[^ ]+: [EW]: ' "$WORK/rpmlint.log" | sed 's/^/# rpmlint: /'
assert_contains "rpmlint checked the spec and the package" \
	"$(cat "$WORK/rpmlint.log")" "1 packages and 1 specfiles checked; 0 errors"
assert_eq "rpmlint exit status" 0 "$rpmlint_rc"

step "the packages hold the files they should"
assert_eq ".deb file list is tests/system/deb-files.txt" \
	"$(pkg_expected_files "$SYSTEM/deb-files.txt" /lib/systemd/system)" \
	"$(pkg_deb_files "$DEB")"
assert_eq ".rpm file list is tests/system/rpm-files.txt" \
	"$(pkg_expected_files "$SYSTEM/rpm-files.txt" /usr/lib/systemd/system)" \
	"$(pkg_rpm_files "$RPM")"
assert_eq ".deb conffiles" /etc/stride-webhooks/stride-webhooks.conf \
	"$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)"
assert_eq ".deb modes of the configuration and the TLS folder" \
	"-rw-r----- drwx------" \
	"$(dpkg-deb -c "$DEB" | awk '$6 == "./etc/stride-webhooks/stride-webhooks.conf" ||
		$6 == "./etc/stride-webhooks/tls/" { print $1 }' | paste -sd' ' -)"
assert_eq ".rpm marks the configuration %config(noreplace), mode 0640" \
	"/etc/stride-webhooks/stride-webhooks.conf -rw-r-----" \
	"$(rpm -qpc "$RPM") $(rpm -qplv "$RPM" | awk '$NF == "/etc/stride-webhooks/stride-webhooks.conf" { print $1 }')"
assert_contains ".rpm scriptlets preset the units on install" \
	"$(rpm -qp --scripts "$RPM")" "preset stride-webhooks.socket stride-webhooks-spool.path stride-webhooks.service"
ids=$(sed -n 's/.*\[LOGID_[A-Z_]*\] = "\([0-9a-f]\{32\}\)".*/\1/p' "$ROOT/src/log.c" | sort)
assert_eq "the journal catalog explains every MESSAGE_ID of src/log.c" "$ids" \
	"$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$ROOT/packaging/stride-webhooks.catalog" | sort)"
score=$(systemd-analyze security --offline=yes "$ROOT/units/stride-webhooks.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if awk -v s="${score:-99}" 'BEGIN { exit !(s <= 1.5) }'; then
	ok "systemd-analyze security scores the service $score (at most 1.5)"
else
	not_ok "systemd-analyze security scores the service ${score:-nothing}, over 1.5"
fi

# ---- Debian 12 with systemd as PID 1 ----

step "a Debian 12 root file system with the package's dependencies"
if tarball=$(rootfs_tarball "$DEB"); then
	ok "root file system ready"
else
	not_ok "the root file system could not be built (debootstrap log above)"
	test_finish
	exit 1
fi
CT_ROOT=$WORK/root
if ! (mkdir -p "$CT_ROOT" && tar --zstd -C "$CT_ROOT" -xf "$tarball"); then
	echo "# the cached tarball does not unpack: building it again"
	rm -rf "$tarball" "$CT_ROOT"
	tarball=$(rootfs_tarball "$DEB") && mkdir -p "$CT_ROOT" &&
		tar --zstd -C "$CT_ROOT" -xf "$tarball" || {
		not_ok "the root file system could not be unpacked"
		test_finish
		exit 1
	}
fi
# What the test brings in: the package and a certificate for 127.0.0.1.
mkdir -p "$CT_ROOT/srv/test"
cp "$DEB" "$CT_ROOT/srv/test/"
cert_make "$CT_ROOT/srv/test/tls"
chmod 644 "$CT_ROOT/srv/test/tls/"*.pem

step "boot: systemd-nspawn -b, private network, read-only console"
if ct_boot "$CT_ROOT" "$WORK/console.log"; then
	ok "the container reached $(ct systemctl is-system-running) (PID 1 is $CT_PID on the host)"
else
	not_ok "the container did not boot; console:"
	tail -n 30 "$WORK/console.log" | sed 's/^/# /'
	ct_stop
	ct_check_dev_null
	test_finish
	exit 1
fi
ct bash -c 'until pg_isready -q; do sleep 0.2; done' 2>/dev/null &
pg_wait=$!

# A delivery from inside the container, signed as Sentry signs. Sets
# STATUS and BODY.
deliver_sentry() { # ID [URL]
	local url=${2:-https://127.0.0.1/api/webhooks/sentry} body sig out
	body='{"action":"created","data":{"issue":{"id":"'$1'","title":"Test Error","culprit":"test.ts:1","level":"error"}}}'
	sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
	out=$(ct curl -sS -m 10 --cacert /srv/test/tls/cert.pem -X POST "$url" \
		-H "Content-Type: application/json" -H "Sentry-Hook-Signature: $sig" \
		-H "X-Forwarded-For: 203.0.113.7" -d "$body" -w '\n%{http_code}' 2>&1)
	STATUS=${out##*$'\n'}
	BODY=${out%$'\n'*}
}

unit_state() { # UNIT
	ct systemctl is-active "$1" 2>/dev/null
}

# Whether anything listens on a TCP port inside.
listening() { # PORT
	[ -n "$(ct ss -Hltn "sport = :$1")" ]
}

# How many stride-webhooks processes run inside.
daemon_processes() {
	ct sh -c 'n=0; for c in /proc/[0-9]*/comm; do
		[ "$(cat "$c" 2>/dev/null)" = stride-webhooks ] && n=$((n + 1)); done; echo $n'
}

wait_inactive() { # UNIT SECONDS
	local tries=$(($2 * 10))
	while [ "$(unit_state "$1")" != inactive ] && [ $tries -gt 0 ]; do
		sleep 0.1
		tries=$((tries - 1))
	done
	[ "$(unit_state "$1")" == inactive ]
}

psql_stride() { # SQL
	ct runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d stride -c "$1"
}

step "README 1: apt install ./stride-webhooks_${VERSION}_*.deb starts nothing"
ct apt-get install -y -q "/srv/test/$(basename "$DEB")" >"$WORK/apt-install.log" 2>&1
assert_eq "apt-get install exit status" 0 "$?"
assert_eq "the socket is not enabled" disabled "$(ct systemctl is-enabled stride-webhooks.socket)"
assert_eq "the socket is inactive" inactive "$(unit_state stride-webhooks.socket)"
assert_eq "the service is inactive" inactive "$(unit_state stride-webhooks.service)"
assert_eq "the spool's path unit is inactive" inactive "$(unit_state stride-webhooks-spool.path)"
if listening 443; then not_ok "something listens on 443 after install"; else ok "nothing listens on 443"; fi
assert_eq "the configuration is a conffile, root:root 0640" "640 root:root" \
	"$(ct stat -c '%a %U:%G' /etc/stride-webhooks/stride-webhooks.conf)"
assert_eq "the TLS folder is root-only" "700 root:root" \
	"$(ct stat -c '%a %U:%G' /etc/stride-webhooks/tls)"
assert_contains "the journal catalog is installed (journalctl --list-catalog)" \
	"$(ct journalctl --list-catalog 2>/dev/null)" \
	"5cfbf82c0ab3489fbdfd4f95211e7b7f stride-webhooks: Webhook delivery stored as a Stride issue"
assert_eq "man finds stride-webhooks(8)" /usr/share/man/man8/stride-webhooks.8.gz \
	"$(ct man -w 8 stride-webhooks 2>&1)"
verify=$(ct systemd-analyze verify stride-webhooks.socket \
	stride-webhooks-spool.path stride-webhooks.service 2>&1)
assert_eq "systemd-analyze verify of the installed units says nothing" "" "$verify"

step "without a certificate the socket stays down instead of failing"
ct systemctl start stride-webhooks.socket >/dev/null 2>&1
assert_eq "the socket is inactive" inactive "$(unit_state stride-webhooks.socket)"
assert_eq "its condition on the certificate was not met" no \
	"$(ct systemctl show -P ConditionResult stride-webhooks.socket)"
if listening 443; then not_ok "443 taken without a certificate"; else ok "nothing listens on 443"; fi
out=$(ct stride-webhooks check 2>&1)
assert_eq "stride-webhooks check fails before configuration" 1 "$?"
assert_contains "check names the missing certificate" "$out" \
	"error   TLS certificate /etc/stride-webhooks/tls/cert.pem is missing"
assert_contains "check names the database problem" "$out" "error   database unavailable"

wait "$pg_wait"
step "README 2: the daemon's role and its grants in Stride's database"
# Stride's own tables and data, as Stride would have them.
ct runuser -u postgres -- createdb stride
ct sh -c 'runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d stride \
	</usr/share/stride-webhooks/sql/stride-schema.sql'
psql_stride "INSERT INTO projects (\"id\", \"key\", \"name\", \"configYaml\", \"updatedAt\")
	VALUES ('p-shop', 'SHOP', 'Shop', '', now());
	INSERT INTO users (\"id\", \"email\", \"username\", \"passwordHash\", \"role\", \"updatedAt\")
	VALUES ('u-admin', 'admin@example.com', 'admin', 'x', 'Admin', now());"
assert_eq "Stride's tables with project SHOP and an Admin" "1|1" \
	"$(psql_stride 'SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM users)')"
psql_stride "CREATE ROLE stride_webhooks LOGIN PASSWORD '$DB_PASSWORD';
	CREATE SCHEMA stride_webhooks AUTHORIZATION stride_webhooks;
	GRANT SELECT ON projects, users TO stride_webhooks;
	GRANT SELECT, INSERT, UPDATE ON issues TO stride_webhooks;
	GRANT INSERT ON comments TO stride_webhooks;"
assert_eq "role stride_webhooks created with its grants" 0 "$?"
DATABASE_URL="postgresql://stride_webhooks:$DB_PASSWORD@localhost/stride"
out=$(ct env DATABASE_URL="$DATABASE_URL" stride-webhooks migrate 2>&1)
assert_eq "stride-webhooks migrate, as the daemon's role" "stride-webhooks: schema is up to date" "$out"

step "README 3: certificate, key and configuration"
ct install -m 600 /srv/test/tls/cert.pem /srv/test/tls/key.pem /etc/stride-webhooks/tls/
ct sh -c "cat >>/etc/stride-webhooks/stride-webhooks.conf" <<EOF
DATABASE_URL=$DATABASE_URL
WEBHOOK_SECRET=$SECRET
IDLE_TIMEOUT_SEC=$IDLE
EOF
assert_eq "the configuration kept root:root 0640" "640 root:root" \
	"$(ct stat -c '%a %U:%G' /etc/stride-webhooks/stride-webhooks.conf)"

step "README 4: stride-webhooks check"
out=$(ct stride-webhooks check 2>&1)
assert_eq "check exits 0" 0 "$?"
echo "$out" | sed 's/^/#   /'
assert_not_contains "check reports no error" "$out" "error "
assert_contains "check found the certificate valid" "$out" "the certificate is valid for 29 more days"
assert_contains "check found the default project" "$out" "go to project SHOP"
assert_contains "check says the secret is set" "$out" "secret for sentry is set (WEBHOOK_SECRET)"
assert_not_contains "check never prints a secret" "$out" "$SECRET"
assert_not_contains "check never prints the database password" "$out" "$DB_PASSWORD"

step "README 5: systemctl enable --now stride-webhooks.socket stride-webhooks-spool.path"
ct systemctl enable --now stride-webhooks.socket stride-webhooks-spool.path >/dev/null 2>&1
assert_eq "the socket is active" active "$(unit_state stride-webhooks.socket)"
assert_eq "the spool's path unit is enabled and active" "enabled active" \
	"$(ct systemctl is-enabled stride-webhooks-spool.path) $(unit_state stride-webhooks-spool.path)"
if listening 443; then ok "systemd listens on 443"; else not_ok "nothing listens on 443"; fi
assert_eq "the service is inactive before the first connection" inactive \
	"$(unit_state stride-webhooks.service)"

step "README 6: a signed Sentry delivery over HTTPS"
deliver_sentry system-test-1
assert_eq "the delivery gets 201" 201 "$STATUS"
assert_eq "it created SHOP-1" SHOP-1 "$(jq -r .issueKey <<<"$BODY" 2>/dev/null)"
assert_eq "the issue row exists" "SHOP-1|Test Error|High|u-admin" \
	"$(psql_stride 'SELECT "key", "title", "priority", "reporterId" FROM issues')"
assert_eq "the connection started the service" active "$(unit_state stride-webhooks.service)"
pid1=$(ct systemctl show -P MainPID stride-webhooks.service)
assert_ne "the daemon runs as a dynamic user, not root" 0 \
	"$(ct stat -c %u "/proc/$pid1" 2>/dev/null || echo 0)"

step "README 7: journalctl -u stride-webhooks -o json"
ct journalctl --sync 2>/dev/null
entry=$(ct journalctl -u stride-webhooks -o json PROVIDER=sentry ISSUE_KEY=SHOP-1 2>/dev/null |
	jq -c 'select(.MESSAGE_ID == "5cfbf82c0ab3489fbdfd4f95211e7b7f")' 2>/dev/null | head -n 1)
assert_eq "one entry with PROVIDER=sentry ISSUE_KEY=SHOP-1, stored" \
	"sentry SHOP-1 201 created stride-webhooks.service" \
	"$(jq -r '"\(.PROVIDER) \(.ISSUE_KEY) \(.HTTP_STATUS) \(.ACTION) \(._SYSTEMD_UNIT)"' <<<"${entry:-{\}}")"
assert_contains "journalctl -x explains it from the catalog" \
	"$(ct journalctl -u stride-webhooks -x ISSUE_KEY=SHOP-1 2>/dev/null)" \
	"Subject: Webhook delivery stored as a Stride issue"
assert_not_contains "the journal holds no secret" \
	"$(ct journalctl -u stride-webhooks -o json 2>/dev/null)" "$SECRET"

step "idle exit after IDLE_TIMEOUT_SEC=$IDLE, and the next connection"
if wait_inactive stride-webhooks.service $((IDLE + 20)); then
	ok "the service exited on idle"
else
	not_ok "the service is still $(unit_state stride-webhooks.service) after $((IDLE + 20)) s"
fi
assert_eq "the socket is still active" active "$(unit_state stride-webhooks.socket)"
if listening 443; then ok "443 still listening"; else not_ok "443 no longer listening"; fi
assert_eq "the service's result is success" success \
	"$(ct systemctl show -P Result stride-webhooks.service)"
deliver_sentry system-test-2
assert_eq "the second delivery gets 201" 201 "$STATUS"
assert_eq "it created SHOP-2" SHOP-2 "$(jq -r .issueKey <<<"$BODY" 2>/dev/null)"
pid2=$(ct systemctl show -P MainPID stride-webhooks.service)
assert_eq "the service runs again" active "$(unit_state stride-webhooks.service)"
assert_ne "in a new process" "$pid1" "$pid2"

step "systemctl stop leaves nothing running"
ct systemctl stop stride-webhooks.socket stride-webhooks-spool.path stride-webhooks.service
assert_eq "the service is inactive" inactive "$(unit_state stride-webhooks.service)"
assert_eq "the socket is inactive" inactive "$(unit_state stride-webhooks.socket)"
assert_eq "the path unit is inactive" inactive "$(unit_state stride-webhooks-spool.path)"
assert_eq "no stride-webhooks process" 0 "$(daemon_processes)"
if listening 443; then not_ok "443 still listening"; else ok "nothing listens on 443"; fi

step "the same-domain drop-ins: plain HTTP on 127.0.0.1:8088, no certificate"
ct sh -c 'cd /usr/share/doc/stride-webhooks/examples/same-domain &&
	install -D -m644 socket-loopback.conf /etc/systemd/system/stride-webhooks.socket.d/loopback.conf &&
	install -D -m644 service-tls-off.conf /etc/systemd/system/stride-webhooks.service.d/tls-off.conf &&
	mv /etc/stride-webhooks/tls/key.pem /etc/stride-webhooks/tls/key.pem.away &&
	systemctl daemon-reload && systemctl start stride-webhooks.socket'
assert_eq "the socket is active without a key" active "$(unit_state stride-webhooks.socket)"
if listening 8088 && ! listening 443; then
	ok "it listens on 8088, not on 443"
else
	not_ok "listeners: $(ct ss -Hltn | awk '{ print $4 }' | paste -sd' ' -)"
fi
assert_contains "check accepts TLS=off" "$(ct env TLS=off TRUSTED_PROXIES=127.0.0.1 \
	stride-webhooks check 2>&1)" "stride-webhooks would serve"
deliver_sentry system-test-3 http://127.0.0.1:8088/api/webhooks/sentry
assert_eq "a signed delivery over plain HTTP gets 201" 201 "$STATUS"
assert_eq "it created SHOP-3" SHOP-3 "$(jq -r .issueKey <<<"$BODY" 2>/dev/null)"
ct journalctl --sync 2>/dev/null
assert_eq "the journal names the proxy's X-Forwarded-For as REMOTE_ADDR" 203.0.113.7 \
	"$(ct journalctl -u stride-webhooks -o json ISSUE_KEY=SHOP-3 2>/dev/null |
		jq -r 'select(.MESSAGE_ID == "5cfbf82c0ab3489fbdfd4f95211e7b7f") | .REMOTE_ADDR' | head -n 1)"
ct sh -c 'systemctl stop stride-webhooks.socket stride-webhooks.service &&
	rm -r /etc/systemd/system/stride-webhooks.socket.d /etc/systemd/system/stride-webhooks.service.d &&
	mv /etc/stride-webhooks/tls/key.pem.away /etc/stride-webhooks/tls/key.pem &&
	systemctl daemon-reload && systemctl start stride-webhooks.socket'
deliver_sentry system-test-4
assert_eq "back on 443 with TLS: 201" 201 "$STATUS"

step "apt-get remove stops the socket and leaves nothing running"
assert_eq "the service runs before the removal" active "$(unit_state stride-webhooks.service)"
ct apt-get remove -y -q stride-webhooks >"$WORK/apt-remove.log" 2>&1
assert_eq "apt-get remove exit status" 0 "$?"
assert_eq "no stride-webhooks process" 0 "$(daemon_processes)"
if listening 443; then not_ok "443 still listening"; else ok "nothing listens on 443"; fi
assert_eq "the socket unit is gone" "not-found" \
	"$(ct systemctl show -P LoadState stride-webhooks.socket)"
assert_eq "the configuration stays until purge" present \
	"$(ct sh -c 'test -f /etc/stride-webhooks/stride-webhooks.conf && echo present')"
ct apt-get purge -y -q stride-webhooks >"$WORK/apt-purge.log" 2>&1
assert_eq "apt-get purge exit status" 0 "$?"
assert_eq "purge removed /etc/stride-webhooks and the state" "gone gone" \
	"$(ct sh -c 'test -e /etc/stride-webhooks || echo gone; test -e /var/lib/private/stride-webhooks || echo gone' | paste -sd' ' -)"

step "shutdown"
ct_stop
ok "the container shut down"
if [ -e /run/systemd/nspawn/propagate/stride-test-$$ ]; then
	not_ok "nspawn's folder in /run/systemd/nspawn/propagate is left behind"
else
	ok "no nspawn leftovers in /run/systemd/nspawn"
fi
ct_check_dev_null
test_finish
