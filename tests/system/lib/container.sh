# shellcheck shell=bash
# Debian with systemd as PID 1 under systemd-nspawn, driven from the host
# with nsenter (notes/systemd-container.md: no machined, no host bus).
# Sets CT_NSPAWN (the nspawn process) and CT_PID (the container's PID 1).

CT_BOOT_TIMEOUT=${CT_BOOT_TIMEOUT:-600}

# ct_boot ROOT LOG: boots ROOT, with no network but its own loopback;
# returns once systemd inside says running or degraded.
ct_boot() {
	local root=$1 log=$2 state tries
	# stdin stays away from the container's console: a console bound to
	# the host's /dev/null once left it root:tty 0620.
	timeout "$CT_BOOT_TIMEOUT" systemd-nspawn -q -b -D "$root" --register=no \
		--keep-unit --private-network --console=read-only \
		--machine="stride-test-$$" >"$log" 2>&1 </dev/null &
	CT_TIMEOUT_PID=$!
	for tries in $(seq 1 300); do
		CT_NSPAWN=$(pgrep -P "$CT_TIMEOUT_PID" -x systemd-nspawn)
		[ -n "$CT_NSPAWN" ] && CT_PID=$(ct_find_init "$CT_NSPAWN")
		[ -n "${CT_PID:-}" ] && break
		sleep 0.1
	done
	[ -n "${CT_PID:-}" ] || return 1
	for tries in $(seq 1 600); do
		state=$(ct systemctl is-system-running 2>/dev/null)
		case $state in
		running | degraded) return 0 ;;
		esac
		sleep 0.1
	done
	echo "# the container did not boot: $state" >&2
	return 1
}

# The child of nspawn that is systemd in a PID namespace of its own.
ct_find_init() { # NSPAWN_PID
	local pid
	for pid in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == systemd ] || continue
		[ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] || continue
		echo "$pid"
		return
	done
}

# ct COMMAND...: runs COMMAND inside, in every namespace of the
# container, with a plain environment, for at most CT_COMMAND_TIMEOUT.
CT_COMMAND_TIMEOUT=${CT_COMMAND_TIMEOUT:-180}
ct() {
	timeout "$CT_COMMAND_TIMEOUT" nsenter -t "$CT_PID" -a env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb "$@"
}

# Stops the container (SIGTERM to nspawn is a clean shutdown) and waits.
ct_stop() {
	local tries
	[ -n "${CT_NSPAWN:-}" ] || return 0
	kill -TERM "$CT_NSPAWN" 2>/dev/null
	for tries in $(seq 1 300); do
		kill -0 "$CT_NSPAWN" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$CT_NSPAWN" 2>/dev/null; then
		echo "# the container did not shut down in 30 s: killing it" >&2
		kill -KILL "$CT_NSPAWN" 2>/dev/null
	fi
	wait "$CT_TIMEOUT_PID" 2>/dev/null
	CT_NSPAWN=
	CT_PID=
	# nspawn leaves its propagation folder behind.
	rm -rf "/run/systemd/nspawn/propagate/stride-test-$$"
	rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks \
		/run/systemd/nspawn 2>/dev/null
	ct_clean_cgroups
	return 0
}

# On a host whose PID 1 is not systemd, nspawn --keep-unit splits our
# cgroup into payload/ and supervisor/ and leaves them behind, empty.
# Only empty folders can be removed, so a container still running
# elsewhere keeps its own.
ct_clean_cgroups() {
	local named unified dir sub
	named=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
	unified=$(sed -n 's/^0:://p' /proc/self/cgroup)
	for dir in "/sys/fs/cgroup/systemd${named%/}" "/sys/fs/cgroup/unified${unified%/}"; do
		for sub in payload supervisor; do
			[ -d "$dir/$sub" ] || continue
			find "$dir/$sub" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
}

# /dev/null must stay 666 root on the host; says so and repairs it if not.
ct_check_dev_null() {
	local st
	st=$(stat -c %a:%U:%G /dev/null)
	if [ "$st" == 666:root:root ]; then
		ok "the host's /dev/null is still 666 root:root"
		return
	fi
	chown root:root /dev/null
	chmod 666 /dev/null
	not_ok "the host's /dev/null was $st after the container ran (repaired to 666 root:root)"
}
