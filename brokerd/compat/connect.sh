#!/usr/bin/env bash
# connect.sh is `make connect`: a single-node Kafki broker on 127.0.0.1:9092 and
# one Kafka Connect distributed worker (Apache Kafka's ConnectDistributed,
# the jars deps.sh fetches) with its REST API on
# 127.0.0.1:8083. The worker creates its compacted config, offset and status
# topics on Kafki. Ctrl-C stops both.
#
#   connect.sh BROKERD_BIN DATA_DIR
set -euo pipefail

brokerd=${1:?usage: connect.sh BROKERD_BIN DATA_DIR}
data=${2:?usage: connect.sh BROKERD_BIN DATA_DIR}
listen=${KAFKI_CONNECT_BROKER:-127.0.0.1:9092}
rest=${KAFKI_CONNECT_REST_PORT:-8083}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
cpfile=${KAFKI_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kafki}/kafka-$version/classpath-$(sha256sum "$pom" | cut -c1-12)
[[ -s $cpfile ]] || { echo "connect: no Kafka classpath in $cpfile (make compat-deps)" >&2; exit 1; }

mkdir -p "$data/broker" "$data/files"
cat >"$data/worker.properties" <<PROPS
bootstrap.servers=$listen
group.id=kafki-connect
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
config.storage.topic=connect-configs
offset.storage.topic=connect-offsets
status.storage.topic=connect-status
config.storage.replication.factor=-1
offset.storage.replication.factor=-1
status.storage.replication.factor=-1
offset.flush.interval.ms=5000
listeners=http://127.0.0.1:$rest
rest.advertised.host.name=127.0.0.1
plugin.discovery=service_load
PROPS
cat >"$data/log4j2.properties" <<'PROPS'
status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = warn
PROPS

"$brokerd" --listen="$listen" --data.dir="$data/broker" >"$data/brokerd.log" 2>&1 &
broker_pid=$!
worker_pid=
stop() {
	[[ -n $worker_pid ]] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
	kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
}
trap stop EXIT
trap 'exit 130' INT TERM

# The broker logs "broker started" once it listens.
for _ in $(seq 150); do
	grep -q "broker started" "$data/brokerd.log" && break
	kill -0 "$broker_pid" 2>/dev/null || { cat "$data/brokerd.log" >&2; exit 1; }
	sleep 0.1
done
grep -q "broker started" "$data/brokerd.log" || { echo "connect: brokerd did not start; log in $data/brokerd.log" >&2; exit 1; }

cat <<MSG
Kafki broker on $listen (log: $data/brokerd.log), Connect worker REST API on http://127.0.0.1:$rest
(worker log: $data/connect.log). Copy a file through a topic with the FileStream connectors:

  echo hello > $data/files/in.txt
  curl -s -X PUT -H 'Content-Type: application/json' http://127.0.0.1:$rest/connectors/file-source/config \\
    -d '{"connector.class":"org.apache.kafka.connect.file.FileStreamSourceConnector","tasks.max":"1","file":"$data/files/in.txt","topic":"connect-test"}'
  curl -s -X PUT -H 'Content-Type: application/json' http://127.0.0.1:$rest/connectors/file-sink/config \\
    -d '{"connector.class":"org.apache.kafka.connect.file.FileStreamSinkConnector","tasks.max":"1","file":"$data/files/out.txt","topics":"connect-test"}'
  curl -s 'http://127.0.0.1:$rest/connectors?expand=status'
  cat $data/files/out.txt

Ctrl-C stops the worker and the broker.
MSG
java -XX:+UseSerialGC -Xmx512m -Dlog4j2.configurationFile="$data/log4j2.properties" \
	-cp "$(cat "$cpfile")" org.apache.kafka.connect.cli.ConnectDistributed "$data/worker.properties" \
	>"$data/connect.log" 2>&1 &
worker_pid=$!
wait "$worker_pid"
