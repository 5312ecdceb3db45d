# shellcheck shell=bash
# ClickHouse (Debian's clickhouse-server, version 18.16) for deploy/local/up.
# Runs /usr/sbin/clickhouse-server in the foreground (no systemd, no --daemon) with a copy
# of /etc/clickhouse-server/{config,users}.xml whose paths, ports and listen_host are
# rewritten to deploy/local/.state/clickhouse and 127.0.0.1.

CLICKHOUSE_PORT="${SHOPSTREAM_LOCAL_CLICKHOUSE_PORT:-19000}"
CLICKHOUSE_HTTP_PORT="${SHOPSTREAM_LOCAL_CLICKHOUSE_HTTP_PORT:-18123}"
CLICKHOUSE_INTERSERVER_PORT="${SHOPSTREAM_LOCAL_CLICKHOUSE_INTERSERVER_PORT:-19009}"
CLICKHOUSE_DATABASE="shopstream"
# shellcheck disable=SC2034 # read by lib.sh (server_timeout)
clickhouse_TIMEOUT="${SHOPSTREAM_LOCAL_CLICKHOUSE_TIMEOUT:-120}"

clickhouse_install() {
	apt_ensure clickhouse-server clickhouse-client
}

clickhouse_server_bin() {
	if [[ -x /usr/sbin/clickhouse-server ]]; then
		echo /usr/sbin/clickhouse-server
	else
		command -v clickhouse-server || die "clickhouse: clickhouse-server not found"
	fi
}

clickhouse_write_config() {
	local etc="$STATE_DIR/etc" src=/etc/clickhouse-server
	[[ -r $src/config.xml && -r $src/users.xml ]] || die "clickhouse: $src/config.xml or users.xml missing"
	mkdir -p "$etc" "$STATE_DIR/data" "$STATE_DIR/log"
	cp -f "$src/users.xml" "$etc/users.xml"
	# Every <listen_host> line goes (they are all commented out in the Debian file) and
	# one active 127.0.0.1 is added after <tcp_port>.
	sed -e "s#/var/lib/clickhouse/#$STATE_DIR/data/#g" \
		-e "s#/var/log/clickhouse-server/#$STATE_DIR/log/#g" \
		-e "s#<http_port>[0-9]*</http_port>#<http_port>$CLICKHOUSE_HTTP_PORT</http_port>#" \
		-e "s#<tcp_port>[0-9]*</tcp_port>#<tcp_port>$CLICKHOUSE_PORT</tcp_port>\n    <listen_host>127.0.0.1</listen_host>#" \
		-e "s#<interserver_http_port>[0-9]*</interserver_http_port>#<interserver_http_port>$CLICKHOUSE_INTERSERVER_PORT</interserver_http_port>#" \
		-e "/<listen_host>[^<]*<\/listen_host>/{/127.0.0.1<\/listen_host>\$/!d}" \
		-e "s#<port>9000</port>#<port>$CLICKHOUSE_PORT</port>#" \
		-e "s#<size>1000M</size>#<size>100M</size>#" \
		-e "s#<count>10</count>#<count>2</count>#" \
		"$src/config.xml" >"$etc/config.xml.tmp"
	if ! grep -q "<tcp_port>$CLICKHOUSE_PORT</tcp_port>" "$etc/config.xml.tmp" ||
		! grep -q "<path>$STATE_DIR/data/</path>" "$etc/config.xml.tmp"; then
		die "clickhouse: could not rewrite $src/config.xml (unexpected layout)"
	fi
	mv -f "$etc/config.xml.tmp" "$etc/config.xml"
}

clickhouse_start() {
	require_ports_free "$CLICKHOUSE_PORT" "$CLICKHOUSE_HTTP_PORT" "$CLICKHOUSE_INTERSERVER_PORT"
	local bin
	bin="$(clickhouse_server_bin)"
	clickhouse_write_config
	# Started from the state dir: the server resolves relative paths from its config dir.
	cd "$STATE_DIR" || return 1
	spawn_server "$STATE_DIR/log/clickhouse-server.out" \
		"$bin" --config-file="$STATE_DIR/etc/config.xml"
}

clickhouse_query() {
	clickhouse-client --host 127.0.0.1 --port "$CLICKHOUSE_PORT" --connect_timeout 3 -q "$1"
}

# Ready when a real query answers; also creates the shopstream database (idempotent).
clickhouse_ready() {
	clickhouse_query 'SELECT 1' >/dev/null 2>&1 &&
		clickhouse_query "CREATE DATABASE IF NOT EXISTS $CLICKHOUSE_DATABASE" >/dev/null 2>&1
}

clickhouse_endpoint() {
	echo "native 127.0.0.1:$CLICKHOUSE_PORT, HTTP http://127.0.0.1:$CLICKHOUSE_HTTP_PORT," \
		"database $CLICKHOUSE_DATABASE, user default (no password)"
}
