#!/usr/bin/env bash
# Peak RSS of one dataflow process draining N events, for two sizes: memory must be bounded
# by open windows × keys, not by the stream's length (issue: a 20 M-event run within 10 % of a
# 2 M-event run).
#
#   dataflow/bench/memory.sh [N_SMALL [N_LARGE]]     (default 2000000 20000000)
#
# Needs the local stack up (tests/stack/stack up). For each size: a fresh 4-partition topic,
# prefilled by `wa-producer simulate --no-pacing` (seeded; 20,000 events per second of event
# time, 1 % late, 2 s jitter), then `wa-dataflow run --workers 2` with 1-minute windows until
# the watermark passes the last window, under /usr/bin/time. Prints events, wall time,
# events/s and peak RSS per size, and the ratio.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SMALL=${1:-2000000}
LARGE=${2:-20000000}
RATE=20000
START_MS=1767225600000   # 2026-01-01T00:00:00Z
STACK="$ROOT/tests/stack/stack"
set -a  # export what `stack env` prints, so the programs below read it
eval "$("$STACK" env)"
set +a
cargo build --release --quiet --bin wa-producer --bin wa-dataflow --manifest-path "$ROOT/Cargo.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
OUT=$(mktemp -d)
RUN_ID=$(date +%s)

measure() {
  local n=$1 topic="wa_mem_${1}_${RUN_ID}"
  "$STACK" topics --create --topic "$topic" --partitions 4 --replication-factor 1 >/dev/null 2>&1
  "$BIN/wa-producer" simulate --topic "$topic" --events "$n" --rate "$RATE" --no-pacing --seed 42 \
    --start-time "$START_MS" --out-of-order 2s --late-fraction 0.01 --late-by 60s \
    2>"$OUT/producer-$n.log" >/dev/null
  local last_ms=$(( START_MS + n * 1000 / RATE ))
  local stop_at
  stop_at=$(date -u -d "@$(( (last_ms / 60000 + 1) * 60 ))" +%Y-%m-%dT%H:%M:%SZ)
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v "$BIN/wa-dataflow" run --workers 2 --topic "$topic" --database "wa_mem_${RUN_ID}_$n" \
    --checkpoint-dir "/checkpoints/wa-mem-$RUN_ID" --consumer-group "$topic" --idle-timeout 2s \
    --stop-at-watermark "$stop_at" --status-interval 30s --metrics-addr 127.0.0.1:0 \
    >"$OUT/dataflow-$n.log" 2>&1
  t1=$(date +%s.%N)
  local rss_kb
  rss_kb=$(grep 'Maximum resident set size' "$OUT/dataflow-$n.log" | awk '{print $NF}')
  python3 -c "
n=$n; secs=$t1-$t0; rss=$rss_kb/1024
print(f'{n:>12,} events  {secs:8.1f} s  {n/secs:>10,.0f} events/s  peak RSS {rss:8.1f} MiB')
" | tee -a "$OUT/summary"
  echo "$rss_kb" >"$OUT/rss-$n"
}

echo "dataflow peak RSS (1 process × 2 workers, release, 4 partitions, 1-minute windows); logs in $OUT"
measure "$SMALL"
measure "$LARGE"
python3 -c "
small=int(open('$OUT/rss-$SMALL').read()); large=int(open('$OUT/rss-$LARGE').read())
print(f'peak RSS ratio {large/small:.3f} ({$LARGE:,} vs {$SMALL:,} events; bounded if ≤ 1.10)')"
