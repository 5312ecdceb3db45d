# shellcheck shell=bash
# Apache Kafka (KRaft, one combined broker+controller node) for deploy/local/up.
# Jars come from Maven Central through deploy/local/kafka/pom.xml.

KAFKA_PORT="${SHOPSTREAM_LOCAL_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SHOPSTREAM_LOCAL_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP="${SHOPSTREAM_LOCAL_KAFKA_HEAP:-512m}"
# shellcheck disable=SC2034 # read by lib.sh (server_timeout)
kafka_TIMEOUT="${SHOPSTREAM_LOCAL_KAFKA_TIMEOUT:-120}"

kafka_jars_dir() { printf '%s\n' "$LOCAL_DIR/kafka/target/jars"; }

kafka_install() {
	if ! command -v java >/dev/null 2>&1; then apt_ensure openjdk-17-jre-headless; fi
	if ! command -v mvn >/dev/null 2>&1; then apt_ensure maven; fi
	local pom="$LOCAL_DIR/kafka/pom.xml" jars want
	jars="$(kafka_jars_dir)"
	want="$(sha256sum "$pom" | cut -d' ' -f1)"
	if [[ ! -f $jars/.complete || "$(cat "$jars/.complete")" != "$want" ]]; then
		log "kafka: fetching broker jars with Maven (${pom#"$REPO_ROOT"/})"
		rm -rf "$jars"
		mkdir -p "$LOCAL_DIR/kafka/target"
		if ! mvn -q -B -f "$pom" dependency:copy-dependencies >"$LOCAL_DIR/kafka/target/mvn.log" 2>&1; then
			tail -n 30 "$LOCAL_DIR/kafka/target/mvn.log" >&2
			die "kafka: mvn dependency:copy-dependencies failed (log: deploy/local/kafka/target/mvn.log)"
		fi
		compgen -G "$jars/kafka_2.13-*.jar" >/dev/null || die "kafka: no kafka_2.13 jar in $jars"
		printf '%s\n' "$want" >"$jars/.complete"
	fi
	ensure_probe >/dev/null
}

# kafka_jvm: set KAFKA_JVM to the java command line up to the main class.
kafka_jvm() {
	KAFKA_JVM=(java -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-Djava.awt.headless=true
		-Dkafka.logs.dir="$STATE_DIR/log"
		-Dlog4j2.configurationFile="$LOCAL_DIR/kafka/log4j2.properties"
		-Dlog4j2.shutdownHookEnabled=false
		-cp "$(kafka_jars_dir)/*")
}

kafka_write_config() {
	mkdir -p "$STATE_DIR/config" "$STATE_DIR/data"
	cat >"$STATE_DIR/config/server.properties" <<EOF
# Written by deploy/local/servers/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${STATE_DIR}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=168
EOF
}

kafka_start() {
	require_ports_free "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
	kafka_write_config
	local props="$STATE_DIR/config/server.properties" id
	kafka_jvm
	if [[ ! -f $STATE_DIR/data/meta.properties ]]; then
		if [[ ! -s $STATE_DIR/cluster.id ]]; then
			# A Kafka UUID: 16 random bytes, URL-safe base64 without padding.
			head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$STATE_DIR/cluster.id"
		fi
		id="$(cat "$STATE_DIR/cluster.id")"
		log "kafka: formatting storage (cluster id $id)"
		"${KAFKA_JVM[@]}" kafka.tools.StorageTool format -t "$id" -c "$props" -g \
			>>"$STATE_DIR/log/format.log" 2>&1 || {
			tail -n 30 "$STATE_DIR/log/format.log" >&2
			die "kafka: storage format failed"
		}
	fi
	spawn_server "$STATE_DIR/log/kafka.out" "${KAFKA_JVM[@]}" kafka.Kafka "$props"
}

kafka_ready() {
	probe kafka "127.0.0.1:$KAFKA_PORT"
}

kafka_endpoint() {
	echo "127.0.0.1:$KAFKA_PORT (bootstrap; KRaft controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
}
