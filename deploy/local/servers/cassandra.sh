# shellcheck shell=bash
# Apache Cassandra 5.0 (one node) for deploy/local/up.
# Jars come from Maven Central through deploy/local/cassandra/pom.xml
# (org.apache.cassandra:cassandra-all), run with CassandraDaemon on Java 17.
# Uses lib.sh (log, die, apt_ensure, ensure_probe, probe, require_ports_free,
# spawn_server).
#
# Knobs (all optional):
#   SHOPSTREAM_LOCAL_CASSANDRA_PORT          CQL native port        (19042)
#   SHOPSTREAM_LOCAL_CASSANDRA_STORAGE_PORT  inter-node port        (17000)
#   SHOPSTREAM_LOCAL_CASSANDRA_JMX_PORT      local-only JMX, 0 = off (17199)
#   SHOPSTREAM_LOCAL_CASSANDRA_HEAP          -Xmx                   (768m)
#   SHOPSTREAM_LOCAL_CASSANDRA_HEAP_MIN      -Xms                   (512m)
#   SHOPSTREAM_LOCAL_CASSANDRA_JVM_OPTS      extra JVM flags, space-separated
#   SHOPSTREAM_LOCAL_CASSANDRA_TIMEOUT       seconds to wait for ready (180)

CASSANDRA_PORT="${SHOPSTREAM_LOCAL_CASSANDRA_PORT:-19042}"
CASSANDRA_STORAGE_PORT="${SHOPSTREAM_LOCAL_CASSANDRA_STORAGE_PORT:-17000}"
CASSANDRA_JMX_PORT="${SHOPSTREAM_LOCAL_CASSANDRA_JMX_PORT:-17199}"
# shellcheck disable=SC2034 # read by lib.sh (server_timeout)
cassandra_TIMEOUT="${SHOPSTREAM_LOCAL_CASSANDRA_TIMEOUT:-180}"

cassandra_jars_dir() { printf '%s\n' "$LOCAL_DIR/cassandra/target/jars"; }

cassandra_endpoint() { printf 'cassandra 127.0.0.1:%s\n' "$CASSANDRA_PORT"; }

cassandra_install() {
	if ! command -v java >/dev/null 2>&1; then apt_ensure openjdk-17-jre-headless; fi
	if ! command -v mvn >/dev/null 2>&1; then apt_ensure maven; fi
	local pom="$LOCAL_DIR/cassandra/pom.xml" jars want
	jars="$(cassandra_jars_dir)"
	want="$(sha256sum "$pom" | cut -d' ' -f1)"
	if [[ ! -f $jars/.complete || "$(cat "$jars/.complete")" != "$want" ]] ||
		! compgen -G "$jars/cassandra-all-*.jar" >/dev/null; then
		log "cassandra: fetching server jars with Maven (${pom#"$REPO_ROOT"/})"
		rm -rf "$jars"
		mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies || die "cassandra: mvn dependency:copy-dependencies failed"
		compgen -G "$jars/cassandra-all-*.jar" >/dev/null || die "cassandra: no cassandra-all jar in $jars"
		printf '%s\n' "$want" >"$jars/.complete"
	fi
	ensure_probe >/dev/null
}

cassandra_write_config() {
	local conf="$STATE_DIR/conf" d
	for d in conf log data commitlog saved_caches hints cdc_raw tmp; do
		mkdir -p "$STATE_DIR/$d"
	done
	cat >"$conf/cassandra.yaml" <<EOF
# Written by deploy/local/servers/cassandra.sh on every start; edits are lost.
cluster_name: shopstream-local
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:${CASSANDRA_STORAGE_PORT}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: ${CASSANDRA_STORAGE_PORT}
native_transport_port: ${CASSANDRA_PORT}
start_native_transport: true
auto_bootstrap: false
# A new 5.0-only cluster: no 4.x compatibility constraints.
storage_compatibility_mode: NONE

authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
network_authorizer: AllowAllNetworkAuthorizer

data_file_directories:
  - ${STATE_DIR}/data
commitlog_directory: ${STATE_DIR}/commitlog
saved_caches_directory: ${STATE_DIR}/saved_caches
hints_directory: ${STATE_DIR}/hints
cdc_raw_directory: ${STATE_DIR}/cdc_raw

commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 32MiB
disk_failure_policy: stop
commit_failure_policy: stop

# Sized for a 2-core CI machine.
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 2
concurrent_materialized_view_writes: 2
concurrent_compactors: 1
memtable_flush_writers: 1
native_transport_max_threads: 32
compaction_throughput: 0MiB/s
hinted_handoff_enabled: false
dynamic_snitch: false

# Off by default in 5.0; tests may want them.
materialized_views_enabled: true
sasi_indexes_enabled: true
EOF
	cat >"$conf/logback.xml" <<EOF
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${STATE_DIR}/log/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter"><level>WARN</level></filter>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
EOF
	cat >"$conf/logback-tools.xml" <<'EOF'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%-5level %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR" /></root>
</configuration>
EOF
}

# The --add-exports/--add-opens lines of Cassandra 5.0's conf/jvm17-server.options.
CASSANDRA_JPMS=(
	--add-exports java.base/jdk.internal.misc=ALL-UNNAMED
	--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
	--add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
	--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
	--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
	--add-exports java.sql/java.sql=ALL-UNNAMED
	--add-exports java.base/java.lang.ref=ALL-UNNAMED
	--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
	--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
	--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
	--add-opens java.base/java.lang.module=ALL-UNNAMED
	--add-opens java.base/jdk.internal.loader=ALL-UNNAMED
	--add-opens java.base/jdk.internal.ref=ALL-UNNAMED
	--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
	--add-opens java.base/jdk.internal.math=ALL-UNNAMED
	--add-opens java.base/jdk.internal.module=ALL-UNNAMED
	--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
	--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
	--add-opens java.base/sun.nio.ch=ALL-UNNAMED
	--add-opens java.base/java.io=ALL-UNNAMED
	--add-opens java.base/java.lang.reflect=ALL-UNNAMED
	--add-opens java.base/java.lang=ALL-UNNAMED
	--add-opens java.base/java.util=ALL-UNNAMED
	--add-opens java.base/java.nio=ALL-UNNAMED
	--add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
)

# cassandra_jvm: set CASSANDRA_JVM to the java command line up to the main class.
cassandra_jvm() {
	CASSANDRA_JVM=()
	# Cassandra mlockall()s its memory at start. As root (CAP_IPC_LOCK) that pins
	# the whole committed heap; without the capability, and with a small memlock
	# limit, the call fails harmlessly (one WARN line) and idle RSS stays lower.
	if [[ $EUID -eq 0 ]] && command -v setpriv >/dev/null 2>&1; then
		CASSANDRA_JVM+=(setpriv --bounding-set -ipc_lock)
	fi
	if command -v prlimit >/dev/null 2>&1; then
		CASSANDRA_JVM+=(prlimit --memlock=65536:65536)
	fi
	CASSANDRA_JVM+=(java
		-Xms"${SHOPSTREAM_LOCAL_CASSANDRA_HEAP_MIN:-512m}"
		-Xmx"${SHOPSTREAM_LOCAL_CASSANDRA_HEAP:-768m}"
		-Xss256k
		-XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
		-XX:+UseThreadPriorities -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError
		-ea -da:net.openhft...
		-Djava.net.preferIPv4Stack=true
		-Djdk.attach.allowAttachSelf=true
		-Djava.io.tmpdir="$STATE_DIR/tmp"
		-Dio.netty.tryReflectionSetAccessible=true
		-Dio.netty.allocator.useCacheForAllThreads=true
		-Dio.netty.allocator.maxOrder=11
		-Dcassandra.config="file://$STATE_DIR/conf/cassandra.yaml"
		-Dlogback.configurationFile="$STATE_DIR/conf/logback.xml"
		-Dcassandra.logdir="$STATE_DIR/log"
		-Dcassandra.storagedir="$STATE_DIR"
		-Dcassandra-foreground=yes
		-Dcassandra.skip_wait_for_gossip_to_settle=0
		-Dcassandra.ring_delay_ms=0
		# Skips a ~2 s measurement at every start (the value it measures here).
		-Dcassandra.memtable.row_overhead_size=180
		"${CASSANDRA_JPMS[@]}")
	if [[ $CASSANDRA_JMX_PORT != 0 ]]; then
		# The RMI server port would otherwise be a random one.
		CASSANDRA_JVM+=(-Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"
			-Dcom.sun.management.jmxremote.rmi.port="$CASSANDRA_JMX_PORT")
	fi
	# shellcheck disable=SC2206 # word splitting intended
	CASSANDRA_JVM+=(${SHOPSTREAM_LOCAL_CASSANDRA_JVM_OPTS:-})
	CASSANDRA_JVM+=(-cp "$(cassandra_jars_dir)/*")
}

cassandra_start() {
	compgen -G "$(cassandra_jars_dir)/cassandra-all-*.jar" >/dev/null || die "cassandra: jars missing; run cassandra_install"
	local ports=("$CASSANDRA_PORT" "$CASSANDRA_STORAGE_PORT")
	[[ $CASSANDRA_JMX_PORT == 0 ]] || ports+=("$CASSANDRA_JMX_PORT")
	require_ports_free "${ports[@]}"
	cassandra_write_config
	cassandra_jvm
	spawn_server "$STATE_DIR/log/cassandra.out" \
		"${CASSANDRA_JVM[@]}" org.apache.cassandra.service.CassandraDaemon
}

cassandra_ready() {
	probe cassandra "127.0.0.1:$CASSANDRA_PORT"
}

# Debugging aid, not used by the dispatcher. From a shell:
#   (cd deploy/local && source lib.sh && source servers/cassandra.sh &&
#    STATE_DIR=$STATE_ROOT/cassandra cassandra_nodetool status)
cassandra_nodetool() {
	[[ $CASSANDRA_JMX_PORT != 0 ]] || die "cassandra: JMX is off (SHOPSTREAM_LOCAL_CASSANDRA_JMX_PORT=0)"
	java "${CASSANDRA_JPMS[@]}" -Xmx128m -Duser.home="$STATE_DIR/tmp" \
		-Dcassandra.logdir="$STATE_DIR/log" -Dlogback.configurationFile="$STATE_DIR/conf/logback-tools.xml" \
		-cp "$(cassandra_jars_dir)/*" org.apache.cassandra.tools.NodeTool \
		-h 127.0.0.1 -p "$CASSANDRA_JMX_PORT" "$@"
}
