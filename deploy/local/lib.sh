# shellcheck shell=bash
# Common functions of the local real-server harness: deploy/local/{up,down,status}.
#
# Each server NAME lives in deploy/local/servers/NAME.sh and defines:
#   NAME_install   idempotent: install packages / fetch jars
#   NAME_start     launch in the background, write the PID to $STATE_DIR/pid
#                  (spawn_server below does both)
#   NAME_ready     exit 0 only when a real query works
#   NAME_endpoint  print the endpoint(s)
#   NAME_TIMEOUT   seconds to wait for NAME_ready (default 120)
# Before calling them the dispatcher sets STATE_DIR (deploy/local/.state/NAME, absolute,
# created), LOCAL_DIR (absolute deploy/local) and REPO_ROOT.

set -euo pipefail

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd -P)"
STATE_ROOT="$LOCAL_DIR/.state"
ALL_SERVERS=(kafka mysql clickhouse cassandra elasticsearch)
DEFAULT_TIMEOUT=120
STOP_WAIT_SECONDS="${SHOPSTREAM_LOCAL_STOP_WAIT:-20}"
export LOCAL_DIR REPO_ROOT STATE_ROOT

log() { printf '[local] %s\n' "$*" >&2; }
warn() { printf '[local] WARNING: %s\n' "$*" >&2; }
die() {
	printf '[local] ERROR: %s\n' "$*" >&2
	exit 1
}

# as_root CMD...: run CMD as root (directly, or with sudo when not root).
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $* (no sudo found)"
	fi
}

# pkg_installed PKG: is the Debian package installed?
pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# apt_ensure PKG...: apt-get install -y the packages that are missing, running
# apt-get update first, once per `up` invocation (LOCAL_APT_STAMP, set by cmd_up). Services are kept from starting during the
# install (a temporary /usr/sbin/policy-rc.d, only when none exists), so a package
# install never leaves a system mariadb/clickhouse running on the default ports.
apt_ensure() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get"
	log "installing Debian packages: ${missing[*]}"
	if [[ ! -s ${LOCAL_APT_STAMP:-} ]]; then
		log "apt-get update"
		as_root apt-get update -q >/dev/null || die "apt-get update failed"
		[[ -z ${LOCAL_APT_STAMP:-} ]] || echo updated >"$LOCAL_APT_STAMP"
	fi
	local policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# temporary: deploy/local keeps apt from starting services\nexit 101\n' |
			as_root tee "$policy" >/dev/null
		as_root chmod 755 "$policy"
		made_policy=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >"$STATE_ROOT/apt-install.log" 2>&1 || rc=$?
	((made_policy)) && as_root rm -f "$policy"
	if ((rc != 0)); then
		tail -n 30 "$STATE_ROOT/apt-install.log" >&2
		die "apt-get install ${missing[*]} failed (exit $rc); full log: $STATE_ROOT/apt-install.log"
	fi
}

# ensure_probe: build deploy/local/probe to $STATE_ROOT/bin/probe when missing or older
# than its source, go.mod or go.sum. Prints the binary path.
ensure_probe() {
	local bin="$STATE_ROOT/bin/probe"
	if [[ ! -x $bin ]] || [[ -n "$(find "$LOCAL_DIR/probe" "$REPO_ROOT/go.mod" "$REPO_ROOT/go.sum" \
		-newer "$bin" -print -quit 2>/dev/null)" ]]; then
		command -v go >/dev/null 2>&1 || die "go is needed to build the readiness probe"
		log "building readiness probe -> ${bin#"$REPO_ROOT"/}"
		mkdir -p "$STATE_ROOT/bin"
		(cd "$REPO_ROOT" && go build -o "$bin.tmp.$$" ./deploy/local/probe) || die "building deploy/local/probe failed"
		mv -f "$bin.tmp.$$" "$bin"
	fi
	printf '%s\n' "$bin"
}

# probe KIND HOST:PORT: run the readiness probe once (quiet unless PROBE_VERBOSE=1).
probe() {
	local bin="$STATE_ROOT/bin/probe"
	[[ -x $bin ]] || bin="$(ensure_probe)"
	if [[ ${PROBE_VERBOSE:-0} == 1 ]]; then
		"$bin" -timeout "${PROBE_TIMEOUT:-5s}" "$@"
	else
		"$bin" -timeout "${PROBE_TIMEOUT:-5s}" "$@" >/dev/null 2>&1
	fi
}

# proc_starttime PID: start time of PID in clock ticks since boot (field 22 of stat).
proc_starttime() {
	local stat
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	stat="${stat##*) }" # drop "pid (comm) "; comm may contain spaces
	# shellcheck disable=SC2086
	set -- $stat
	printf '%s\n' "${20}"
}

# pid_alive PIDFILE: the PID in PIDFILE is a live (non-zombie) process, and the same
# process that was recorded at start (PIDFILE.start guards against PID reuse).
pid_alive() {
	local pidfile="$1" pid state want have
	[[ -s $pidfile ]] || return 1
	pid="$(head -n1 "$pidfile" | tr -dc '0-9')"
	[[ -n $pid ]] || return 1
	[[ -r /proc/$pid/stat ]] || return 1
	state="$(cut -d')' -f2 "/proc/$pid/stat" 2>/dev/null | awk '{print $1}')"
	[[ $state != Z && $state != X ]] || return 1
	if [[ -s $pidfile.start ]]; then
		want="$(cat "$pidfile.start")"
		have="$(proc_starttime "$pid")" || return 1
		[[ $want == "$have" ]] || return 1
	fi
	return 0
}

read_pid() { head -n1 "$1" 2>/dev/null | tr -dc '0-9'; }

# port_in_use PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# require_ports_free PORT...: fail when another process already listens on a port
# (the readiness check would otherwise talk to that process instead of ours).
require_ports_free() {
	local p
	for p in "$@"; do
		if port_in_use "$p"; then
			die "port 127.0.0.1:$p is already in use by another process (not started by deploy/local);" \
				"stop it or choose another port (see deploy/local/README.md)"
		fi
	done
}

# spawn_server LOGFILE CMD...: start CMD detached (own session, stdin /dev/null,
# stdout+stderr appended to LOGFILE) and write its PID to $STATE_DIR/pid.
spawn_server() {
	local logfile="$1"
	shift
	mkdir -p "$(dirname "$logfile")"
	rm -f "$STATE_DIR/pid" "$STATE_DIR/pid.start"
	printf '\n===== %s start: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logfile"
	# The inner shell writes its own PID and then execs the server, so the PID is the
	# server's whether or not setsid had to fork.
	# shellcheck disable=SC2016
	nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$STATE_DIR/pid" "$@" \
		</dev/null >>"$logfile" 2>&1 &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $STATE_DIR/pid ]] && return 0
		sleep 0.1
	done
	die "server did not write $STATE_DIR/pid"
}

# stop_pidfile NAME PIDFILE: TERM the process, wait up to STOP_WAIT_SECONDS, then KILL.
# Only touches a PID that pid_alive confirms; always removes the pid file.
stop_pidfile() {
	local name="$1" pidfile="$2" pid i
	if ! pid_alive "$pidfile"; then
		if [[ -e $pidfile ]]; then
			log "$name: not running (stale pid file removed)"
		else
			log "$name: not running"
		fi
		rm -f "$pidfile" "$pidfile.start" "$(dirname "$pidfile")/endpoint"
		return 0
	fi
	pid="$(read_pid "$pidfile")"
	log "$name: stopping pid $pid"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_WAIT_SECONDS * 5; i++)); do
		pid_alive "$pidfile" || break
		sleep 0.2
	done
	if pid_alive "$pidfile"; then
		warn "$name: pid $pid still alive after ${STOP_WAIT_SECONDS}s, sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 25; i++)); do
			pid_alive "$pidfile" || break
			sleep 0.2
		done
	fi
	rm -f "$pidfile" "$pidfile.start" "$(dirname "$pidfile")/endpoint"
	log "$name: stopped"
}

# show_logs: the last 30 lines of every file under $STATE_DIR/log.
show_logs() {
	local f
	[[ -d $STATE_DIR/log ]] || return 0
	while IFS= read -r f; do
		printf -- '----- last 30 lines of %s\n' "${f#"$REPO_ROOT"/}" >&2
		tail -n 30 "$f" >&2
	done < <(find "$STATE_DIR/log" -type f -size +0 | sort)
}

# expand_servers ARG...: print the server names requested ("all" or none = ALL_SERVERS).
expand_servers() {
	local a
	(($#)) || set -- all
	for a in "$@"; do
		case "$a" in
		all) printf '%s\n' "${ALL_SERVERS[@]}" ;;
		kafka | mysql | clickhouse | cassandra | elasticsearch) printf '%s\n' "$a" ;;
		-h | --help | help)
			printf 'usage: %s [kafka|mysql|clickhouse|cassandra|elasticsearch|all]...\n' "$(basename "$0")" >&2
			exit 0
			;;
		*) die "unknown server '$a' (want kafka, mysql, clickhouse, cassandra, elasticsearch or all)" ;;
		esac
	done | awk '!seen[$0]++'
}

# load_server NAME: source servers/NAME.sh and set STATE_DIR. Fails (returns 1) when
# the server file or one of its functions is missing.
load_server() {
	local name="$1" f="$LOCAL_DIR/servers/$1.sh" fn
	if [[ ! -f $f ]]; then
		log "$name: NOT AVAILABLE: ${f#"$REPO_ROOT"/} does not exist"
		return 1
	fi
	# shellcheck disable=SC1090
	source "$f"
	for fn in install start ready endpoint; do
		if ! declare -F "${name}_$fn" >/dev/null; then
			log "$name: NOT AVAILABLE: ${f#"$REPO_ROOT"/} defines no ${name}_$fn"
			return 1
		fi
	done
	STATE_DIR="$STATE_ROOT/$name"
	mkdir -p "$STATE_DIR/log"
	export STATE_DIR
}

server_timeout() {
	local var="${1}_TIMEOUT"
	printf '%s\n' "${!var:-$DEFAULT_TIMEOUT}"
}

# up_one NAME: install, start if needed, wait until ready. Runs in its own bash process
# (cmd_up calls "$LOCAL_DIR/up" __one NAME) so that `set -e` really applies inside the
# server's functions; exits non-zero on failure.
up_one() {
	local name="$1" timeout t0 i pid ours=1
	load_server "$name" || return 1
	"${name}_install"
	t0=$SECONDS # NAME_TIMEOUT counts from here, not from the install
	timeout="$(server_timeout "$name")"
	if pid_alive "$STATE_DIR/pid"; then
		pid="$(read_pid "$STATE_DIR/pid")"
		if [[ -s $STATE_DIR/endpoint && "$(cat "$STATE_DIR/endpoint")" != "$("${name}_endpoint")" ]]; then
			log "$name: ERROR: already running (pid $pid) with other settings: $(cat "$STATE_DIR/endpoint")"
			log "$name: run deploy/local/down $name first to restart it with: $("${name}_endpoint")"
			return 1
		fi
		if "${name}_ready"; then
			log "$name: already running (pid $pid), answering"
			return 0
		fi
		log "$name: already running (pid $pid) but not answering yet; waiting"
		ours=0
	else
		rm -f "$STATE_DIR/pid" "$STATE_DIR/pid.start" "$STATE_DIR/endpoint"
		log "$name: starting"
		# On failure: logs and cleanup only if the server process was launched (errors before
		# that, e.g. a busy port, explain themselves).
		trap 'rc=$?; if ((rc)); then log "$name: start failed (exit $rc)";
			if [[ -e $STATE_DIR/pid ]]; then show_logs; stop_pidfile "$name" "$STATE_DIR/pid"; fi; fi' EXIT
		"${name}_start"
		trap - EXIT
		if [[ ! -s $STATE_DIR/pid ]]; then
			log "$name: ${name}_start wrote no $STATE_DIR/pid"
			return 1
		fi
		pid="$(read_pid "$STATE_DIR/pid")"
		[[ -s $STATE_DIR/pid.start ]] || proc_starttime "$pid" >"$STATE_DIR/pid.start" 2>/dev/null || true
		"${name}_endpoint" >"$STATE_DIR/endpoint"
	fi
	for ((i = 0; ; i++)); do
		if ! pid_alive "$STATE_DIR/pid"; then
			log "$name: ERROR: process $pid exited before answering"
			show_logs
			rm -f "$STATE_DIR/pid" "$STATE_DIR/pid.start" "$STATE_DIR/endpoint"
			return 1
		fi
		if "${name}_ready"; then
			break
		fi
		if ((SECONDS - t0 >= timeout)); then
			log "$name: ERROR: pid $pid not answering after ${timeout}s (${name}_TIMEOUT)"
			show_logs
			if ((ours)); then
				stop_pidfile "$name" "$STATE_DIR/pid"
			else
				log "$name: pid $pid was started earlier, so it is left running." \
					"Started with other ports/settings? Run: deploy/local/down $name"
			fi
			return 1
		fi
		sleep 1
	done
	log "$name: ready (pid $pid) after $((SECONDS - t0))s"
}

cmd_up() {
	local names name failed=() ok=()
	if [[ ${1:-} == __one ]]; then
		up_one "$2"
		return
	fi
	mapfile -t names < <(expand_servers "$@")
	mkdir -p "$STATE_ROOT"
	LOCAL_APT_STAMP="$STATE_ROOT/.apt-updated.$$"
	export LOCAL_APT_STAMP
	trap 'rm -f "$LOCAL_APT_STAMP"' EXIT
	for name in "${names[@]}"; do
		if "$LOCAL_DIR/up" __one "$name"; then
			ok+=("$name")
		else
			failed+=("$name")
		fi
	done
	if ((${#ok[@]})); then
		echo
		echo "Endpoints:"
		for name in "${ok[@]}"; do
			(load_server "$name" >/dev/null 2>&1 && "${name}_endpoint") | sed "s/^/  $name: /"
		done
	fi
	if ((${#failed[@]})); then
		echo
		echo "FAILED: ${failed[*]}" >&2
		return 1
	fi
}

cmd_down() {
	local names name failed=()
	mapfile -t names < <(expand_servers "$@")
	for name in "${names[@]}"; do
		if [[ ! -f $LOCAL_DIR/servers/$name.sh ]]; then
			# Nothing of ours can be running without a server file, but a pid file from an
			# earlier checkout would still be honoured.
			if [[ -e $STATE_ROOT/$name/pid ]]; then
				stop_pidfile "$name" "$STATE_ROOT/$name/pid" || failed+=("$name")
			else
				log "$name: not available (no servers/$name.sh), nothing to stop"
			fi
			continue
		fi
		stop_pidfile "$name" "$STATE_ROOT/$name/pid" || failed+=("$name")
	done
	((${#failed[@]} == 0)) || {
		echo "FAILED to stop: ${failed[*]}" >&2
		return 1
	}
}

cmd_status() {
	local names name
	mapfile -t names < <(expand_servers "$@")
	printf '%-14s %-26s %-8s %s\n' SERVER STATE PID ENDPOINT
	for name in "${names[@]}"; do
		(
			if ! load_server "$name" >/dev/null 2>&1; then
				printf '%-14s %-26s %-8s %s\n' "$name" "not available" - "(servers/$name.sh missing or incomplete)"
				exit 0
			fi
			local state pid=- ep
			ep="$("${name}_endpoint" 2>/dev/null | paste -sd' ' -)"
			if pid_alive "$STATE_DIR/pid"; then
				pid="$(read_pid "$STATE_DIR/pid")"
				# The settings it was started with, which may differ from the current env.
				if [[ -s $STATE_DIR/endpoint && "$(paste -sd' ' - <"$STATE_DIR/endpoint")" != "$ep" ]]; then
					ep="$(paste -sd' ' - <"$STATE_DIR/endpoint")"
					state="running (other settings)"
				elif "${name}_ready" >/dev/null 2>&1; then
					state="running"
				else
					state="running (not answering)"
				fi
			else
				state="stopped"
				[[ -e $STATE_DIR/pid ]] && state="stopped (stale pid file)"
			fi
			printf '%-14s %-26s %-8s %s\n' "$name" "$state" "$pid" "$ep"
		)
	done
}
