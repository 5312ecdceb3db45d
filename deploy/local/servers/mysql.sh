# shellcheck shell=bash
# MariaDB (Debian's mariadb-server, MySQL-compatible) for deploy/local/up.
# Runs mariadbd directly (no systemd, no mysqld_safe), with --no-defaults so nothing
# from /etc/mysql applies, and never touches a system MariaDB on 3306.

MYSQL_PORT="${SHOPSTREAM_LOCAL_MYSQL_PORT:-13306}"
MYSQL_DATABASE="shopstream"
MYSQL_USER="shopstream"
MYSQL_PASSWORD="shopstream"
# shellcheck disable=SC2034 # read by lib.sh (server_timeout)
mysql_TIMEOUT="${SHOPSTREAM_LOCAL_MYSQL_TIMEOUT:-120}"

mysql_install() {
	apt_ensure mariadb-server mariadb-client
}

# mysql_user_opts: mariadbd refuses to run as root unless told to.
mysql_user_opts() {
	if [[ $EUID -eq 0 ]]; then
		printf '%s\n' --user=root
	fi
}

mysql_start() {
	require_ports_free "$MYSQL_PORT"
	local data="$STATE_DIR/data" user_opts
	mapfile -t user_opts < <(mysql_user_opts)
	mkdir -p "$STATE_DIR/tmp" "$STATE_DIR/run"
	if [[ ! -d $data/mysql ]]; then
		log "mysql: initialising data directory"
		rm -rf "$data"
		mariadb-install-db --no-defaults "${user_opts[@]}" --datadir="$data" \
			--auth-root-authentication-method=socket --skip-test-db \
			>>"$STATE_DIR/log/install-db.log" 2>&1 || {
			tail -n 30 "$STATE_DIR/log/install-db.log" >&2
			die "mysql: mariadb-install-db failed"
		}
	fi
	# Run on every start: creates/repairs the database and the user idempotently.
	cat >"$STATE_DIR/init.sql" <<EOF
DROP USER IF EXISTS ''@'localhost';
CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';
CREATE USER IF NOT EXISTS '${MYSQL_USER}'@'localhost' IDENTIFIED BY '${MYSQL_PASSWORD}';
ALTER USER '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD}';
ALTER USER '${MYSQL_USER}'@'localhost' IDENTIFIED BY '${MYSQL_PASSWORD}';
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'%';
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\\_%\`.* TO '${MYSQL_USER}'@'%';
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'localhost';
GRANT ALL PRIVILEGES ON \`${MYSQL_DATABASE}\\_%\`.* TO '${MYSQL_USER}'@'localhost';
EOF
	spawn_server "$STATE_DIR/log/mariadbd.out" \
		mariadbd --no-defaults "${user_opts[@]}" \
		--datadir="$data" \
		--port="$MYSQL_PORT" --bind-address=127.0.0.1 \
		--socket="$STATE_DIR/run/mysqld.sock" \
		--pid-file="$STATE_DIR/run/mariadbd.pid" \
		--tmpdir="$STATE_DIR/tmp" \
		--log-error="$STATE_DIR/log/mariadbd.err" \
		--init-file="$STATE_DIR/init.sql" \
		--skip-name-resolve \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-buffer-pool-size=128M \
		--max-connections=500
}

mysql_ready() {
	mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$MYSQL_PORT" \
		-u "$MYSQL_USER" -p"$MYSQL_PASSWORD" --connect-timeout=3 \
		-N -e 'SELECT 1' "$MYSQL_DATABASE" >/dev/null 2>&1
}

mysql_endpoint() {
	echo "127.0.0.1:$MYSQL_PORT database $MYSQL_DATABASE user $MYSQL_USER password $MYSQL_PASSWORD" \
		"(DSN $MYSQL_USER:$MYSQL_PASSWORD@tcp(127.0.0.1:$MYSQL_PORT)/$MYSQL_DATABASE)"
}
