# shellcheck shell=bash
# Elasticsearch 8 (one node) for deploy/local/up.
# Jars come from Maven Central through deploy/local/elasticsearch/pom.xml
# (org.elasticsearch:elasticsearch + org.elasticsearch.plugin:transport-netty4).
# The node runs in-process under a small launcher, compiled at install time from
# deploy/local/elasticsearch/src (see ShopstreamLocalNode.java for why), as an
# unprivileged user: Elasticsearch must not run as root.
# Uses lib.sh (log, die, apt_ensure, require_ports_free, spawn_server).
#
# Knobs (all optional):
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_PORT            HTTP port                 (19200)
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_TRANSPORT_PORT  transport port            (19300)
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_HEAP            -Xms and -Xmx             (512m)
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_USER            user it runs as, as root  (shopstream-es)
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_JVM_OPTS        extra JVM flags, space-separated
#   SHOPSTREAM_LOCAL_ELASTICSEARCH_TIMEOUT         seconds to wait for ready (120)

ES_PORT="${SHOPSTREAM_LOCAL_ELASTICSEARCH_PORT:-19200}"
ES_TRANSPORT_PORT="${SHOPSTREAM_LOCAL_ELASTICSEARCH_TRANSPORT_PORT:-19300}"
ES_HEAP="${SHOPSTREAM_LOCAL_ELASTICSEARCH_HEAP:-512m}"
ES_USER="${SHOPSTREAM_LOCAL_ELASTICSEARCH_USER:-shopstream-es}"
# shellcheck disable=SC2034 # read by lib.sh (server_timeout)
elasticsearch_TIMEOUT="${SHOPSTREAM_LOCAL_ELASTICSEARCH_TIMEOUT:-120}"

es_dir() { printf '%s\n' "$LOCAL_DIR/elasticsearch"; }

elasticsearch_endpoint() { printf 'elasticsearch http://127.0.0.1:%s\n' "$ES_PORT"; }

# es_fingerprint: changes when the pom or the launcher source changes.
es_fingerprint() {
	local d
	d="$(es_dir)"
	(
		cd "$d" || exit 1
		sha256sum pom.xml
		find src -name '*.java' -print0 | sort -z | xargs -0 sha256sum
	) | sha256sum | cut -d' ' -f1
}

elasticsearch_install() {
	if ! command -v javac >/dev/null 2>&1; then apt_ensure openjdk-17-jdk-headless; fi
	if ! command -v mvn >/dev/null 2>&1; then apt_ensure maven; fi
	if ! command -v curl >/dev/null 2>&1; then apt_ensure curl; fi
	local d target want
	d="$(es_dir)"
	target="$d/target"
	want="$(es_fingerprint)"
	if [[ ! -f $target/.complete || "$(cat "$target/.complete")" != "$want" ]] ||
		[[ ! -f $target/classes/org/elasticsearch/node/ShopstreamLocalNode.class ]]; then
		log "elasticsearch: fetching server jars with Maven (${d#"$REPO_ROOT"/}/pom.xml)"
		rm -rf "$target/jars" "$target/classes" "$target/.complete"
		mvn -q -B -Dstyle.color=never -f "$d/pom.xml" dependency:copy-dependencies ||
			die "elasticsearch: mvn dependency:copy-dependencies failed"
		compgen -G "$target/jars/elasticsearch-8.*.jar" >/dev/null || die "elasticsearch: no server jar in $target/jars"
		log "elasticsearch: compiling the launcher (${d#"$REPO_ROOT"/}/src)"
		local srcs=()
		mapfile -t srcs < <(find "$d/src" -name '*.java' | sort)
		javac -nowarn --release 17 -encoding UTF-8 -d "$target/classes" -cp "$target/jars/*" "${srcs[@]}" ||
			die "elasticsearch: javac failed"
		# Readable by the unprivileged user the node runs as.
		chmod -R a+rX "$target"
		printf '%s\n' "$want" >"$target/.complete"
	fi
	es_ensure_user
}

# es_ensure_user: as root, create the system user the node runs as (idempotent).
es_ensure_user() {
	[[ $EUID -eq 0 ]] || return 0
	id -u "$ES_USER" >/dev/null 2>&1 && return 0
	log "elasticsearch: creating system user $ES_USER"
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$ES_USER" ||
		die "elasticsearch: useradd $ES_USER failed"
}

es_write_config() {
	local home="$STATE_DIR/home" d
	for d in home/config data log tmp; do
		mkdir -p "$STATE_DIR/$d"
	done
	cat >"$home/config/elasticsearch.yml" <<EOF
# Written by deploy/local/servers/elasticsearch.sh on every start; edits are lost.
cluster.name: shopstream-local
node.name: shopstream-local
path.data: ${STATE_DIR}/data
path.logs: ${STATE_DIR}/log
discovery.type: single-node
network.host: 127.0.0.1
http.port: ${ES_PORT}
transport.port: ${ES_TRANSPORT_PORT}
cluster.routing.allocation.disk.threshold_enabled: false
# Tests may delete indices by wildcard.
action.destructive_requires_name: false
# No x-pack jars are loaded, so there is no security to turn off (an xpack.*
# setting here would be rejected as unknown).
EOF
	cat >"$home/config/log4j2.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.deprecation.name = org.elasticsearch.deprecation
logger.deprecation.level = error
EOF
}

# es_jvm: set ES_JVM to the command line up to the main class.
es_jvm() {
	local d
	d="$(es_dir)/target"
	ES_JVM=()
	if [[ $EUID -eq 0 ]]; then
		# setpriv execs (no fork, unlike runuser/su), so the PID that spawn_server
		# records is the JVM's.
		ES_JVM+=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups)
	fi
	ES_JVM+=(java
		-Xms"$ES_HEAP" -Xmx"$ES_HEAP" -Xss1m
		-XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow
		-Djava.io.tmpdir="$STATE_DIR/tmp" -Duser.home="$STATE_DIR/tmp"
		-Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djava.locale.providers=CLDR
		-Djna.nosys=true
		-Des.networkaddress.cache.ttl=60 -Des.networkaddress.cache.negative.ttl=10
		-Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true
		-Dio.netty.recycler.maxCapacityPerThread=0
		-Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true)
	# shellcheck disable=SC2206 # word splitting intended
	ES_JVM+=(${SHOPSTREAM_LOCAL_ELASTICSEARCH_JVM_OPTS:-})
	ES_JVM+=(-cp "$d/classes:$d/jars/*")
}

elasticsearch_start() {
	local target
	target="$(es_dir)/target"
	[[ -f $target/.complete ]] || die "elasticsearch: not installed; run elasticsearch_install"
	require_ports_free "$ES_PORT" "$ES_TRANSPORT_PORT"
	es_write_config
	if [[ $EUID -eq 0 ]]; then
		es_ensure_user
		chown -R "$ES_USER:$ES_USER" "$STATE_DIR/home" "$STATE_DIR/data" "$STATE_DIR/log" "$STATE_DIR/tmp"
		setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups \
			test -r "$target/classes/org/elasticsearch/node/ShopstreamLocalNode.class" -a -w "$STATE_DIR/data" ||
			die "elasticsearch: user $ES_USER cannot read $target or write $STATE_DIR/data (a parent directory not world-searchable?)"
	fi
	es_jvm
	spawn_server "$STATE_DIR/log/elasticsearch.out" \
		"${ES_JVM[@]}" org.elasticsearch.node.ShopstreamLocalNode "$STATE_DIR/home"
}

elasticsearch_ready() {
	curl -sf --max-time 5 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
		grep -Eq '"status":"(green|yellow)"'
}
