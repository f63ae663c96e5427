#!/usr/bin/env bash
# MLLP load against `apptbridge serve` with the shared harness's loadgen,
# side by side with the harness's loopback floor server and an fsync
# floor, all in one run, so the figures can be read as ratios.
#
#   scripts/bench-mllp.sh            # N1=5000 sequential, N16=30000 over 16 conns
#   QUICK=1 scripts/bench-mllp.sh    # smaller counts
#
# Needs ../shared/bench (the peer harness) next to the checkout and python3
# (to generate its corpus). Listens on 127.0.0.1 only; stops what it starts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${HARNESS:-$ROOT/../shared/bench}
SCRATCH=${SCRATCH:-/tmp/apptbridge-bench}
QUICK=${QUICK:-0}
N1=${N1:-$([ "$QUICK" = 1 ] && echo 1000 || echo 5000)}
N16=${N16:-$([ "$QUICK" = 1 ] && echo 5000 || echo 30000)}
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
[ -d "$HARNESS/loadgen" ] || { echo "peer harness not found at $HARNESS" >&2; exit 1; }
mkdir -p "$SCRATCH/bin"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "building loadgen, floorserver and apptbridge"
(cd "$HARNESS/loadgen" && GOFLAGS=-buildvcs=false go build -o "$SCRATCH/bin/" ./...)
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$SCRATCH/bin/apptbridge" ./cmd/apptbridge)
CORPUS="$SCRATCH/siu_100k.hl7"
[ -f "$CORPUS" ] || { log "generating corpus"; python3 "$HARNESS/gen/gen_siu.py" 100000 "$CORPUS"; }

PID=""
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; fi; }
trap stop EXIT
wait_port() { for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
lg() { # cpu label port args...
  local cpu=$1 label=$2 port=$3; shift 3
  GOMAXPROCS=1 taskset -c "$cpu" timeout 300 "$SCRATCH/bin/loadgen" -addr 127.0.0.1:$port -corpus "$CORPUS" -msgs 100000 -label "$label" -max 240s "$@"
}

log "fsync floor (4 KiB write + fdatasync on the data directory's file system)"
(cd "$ROOT" && go test -run '^$' -bench 'BenchmarkFsyncFloor' -benchtime 2000x ./store/sqlite/ | grep -E 'Benchmark|ns/op')

log "loopback floor (ACK without parsing)"
taskset -c "$SRV_CPU" env GOMAXPROCS=1 "$SCRATCH/bin/floorserver" -addr 127.0.0.1:2590 -mode ack >/dev/null 2>&1 &
PID=$!; wait_port 2590
lg "$SRV_CPU" "floor c=1" 2590 -c 1 -n "$N1" -warmup 300
lg "$CLI_CPU" "floor c=16" 2590 -c 16 -n "$N16" -warmup 500
stop

for c in 1 16; do
  DATA=$(mktemp -d "$SCRATCH/data.XXXX")
  log "apptbridge serve, durable SQLite, c=$c (data in $DATA)"
  if [ "$c" = 1 ]; then CPUSET=$SRV_CPU; N=$N1; W=300; LCPU=$SRV_CPU; else CPUSET=0,1; N=$N16; W=500; LCPU=$CLI_CPU; fi
  DATA_DIR="$DATA" MLLP_ADDR=127.0.0.1:2591 HTTP_ADDR=127.0.0.1:2592 LOG_LEVEL=warn \
    taskset -c "$CPUSET" "$SCRATCH/bin/apptbridge" serve 2>"$DATA/serve.log" &
  PID=$!; wait_port 2591
  lg "$LCPU" "apptbridge durable c=$c" 2591 -c "$c" -n "$N" -warmup "$W"
  curl -s http://127.0.0.1:2592/metrics | grep -E '^apptbridge_store_commit_batch_size_(sum|count)|^apptbridge_mllp_acks_total' || true
  stop
  rm -rf "$DATA"
done
