#!/usr/bin/env bash
# Benchmark (not a test): how many events/s `wa-producer simulate` sustains into the local Kafka.
#
#   producer/bench/throughput.sh [RATE] [DURATION]      defaults: 20000 30s
#
# Starts the local stack if it is not running, builds the release binary, creates a fresh
# 4-partition topic, runs `simulate --rate RATE --duration DURATION` (RATE × DURATION events,
# paced at RATE: give a RATE above what it can do to measure its ceiling), then counts what the
# broker holds (end offsets, independent of the producer's own figure), prints events/s and
# deletes the topic.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rate=${1:-20000}
duration=${2:-30s}
brokers=127.0.0.1:${WA_KAFKA_PORT:-9092}
cache=${WA_CACHE_DIR:-$HOME/.cache/wa-stack}

# `stack up` also fetches and installs what is missing: only when something is down.
bash "$repo/tests/stack/stack" status >/dev/null 2>&1 || bash "$repo/tests/stack/stack" up >/dev/null
kafka_cp=$(cat "$cache/kafka.cp")
cargo build -q --release -p producer --manifest-path "$repo/Cargo.toml"
bin=${CARGO_TARGET_DIR:-$repo/target}/release/wa-producer

topic=bench_simulate_$(date +%s)_$$
rss=$(mktemp)
topics() { bash "$repo/tests/stack/stack" topics "$@" >/dev/null; }
cleanup() { topics --delete --topic "$topic" 2>/dev/null || true; rm -f "$rss"; }
trap cleanup EXIT
topics --create --topic "$topic" --partitions 4 --replication-factor 1

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$rss" \
  "$bin" simulate --kafka-brokers "$brokers" --topic "$topic" --rate "$rate" --duration "$duration" --seed 1
end=$(date +%s.%N)

on_broker=$(java -cp "$kafka_cp" org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$brokers" \
  --topic "$topic" 2>/dev/null | awk -F: '{s += $3} END {print s + 0}')

awk -v n="$on_broker" -v a="$start" -v b="$end" -v rate="$rate" -v d="$duration" \
    -v rss="$(cat "$rss")" 'BEGIN {
  secs = b - a
  printf "simulate --rate %s --duration %s: %d events on the broker in %.2f s = %.0f events/s (peak RSS %.0f MB)\n",
         rate, d, n, secs, n / secs, rss / 1024
}'
