#!/usr/bin/env bash
# One-shot Kafka set-up of the Compose stack (service `kafka-init`, apache/kafka image).
# Creates TOPIC with TOPIC_PARTITIONS partitions unless it exists. Idempotent. An existing
# topic is never changed: more partitions would move sessions to other partitions (the key is
# session_id), so that is left to an operator (the command is printed). Also creates
# RESULTS_TOPIC, the dataflow's results feed: one partition, compacted (a consumer upserts by
# key) and deleted after 7 days.
set -euo pipefail

: "${BOOTSTRAP_SERVERS:?}" "${TOPIC:?}" "${TOPIC_PARTITIONS:?}" "${TOPIC_REPLICATION_FACTOR:?}"
: "${RESULTS_TOPIC:?}"
topics=/opt/kafka/bin/kafka-topics.sh

"$topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
  --topic "$RESULTS_TOPIC" --partitions 1 \
  --replication-factor "$TOPIC_REPLICATION_FACTOR" \
  --config cleanup.policy=compact,delete --config retention.ms=604800000

"$topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
  --topic "$TOPIC" --partitions "$TOPIC_PARTITIONS" \
  --replication-factor "$TOPIC_REPLICATION_FACTOR"

description=$("$topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --describe --topic "$TOPIC")
echo "$description"
actual=$(echo "$description" | sed -n 's/.*PartitionCount:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)
if [ "$actual" != "$TOPIC_PARTITIONS" ]; then
  echo "kafka-init: topic $TOPIC has $actual partitions, TOPIC_PARTITIONS asks for $TOPIC_PARTITIONS; left as is." >&2
  echo "kafka-init: to add partitions: docker compose exec kafka $topics --bootstrap-server $BOOTSTRAP_SERVERS --alter --topic $TOPIC --partitions $TOPIC_PARTITIONS" >&2
fi
