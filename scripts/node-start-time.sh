#!/usr/bin/env bash
# Start time of a fresh single node per Cassandra release, alternating releases run by run:
# wall time of `cassandra-node.sh start` (init, JVM start, CQL open, nodetool shows UN), the node's
# own log from its first line to "Startup complete", and the JVM's CPU time (user+sys) once it is up,
# which depends less on the machine's load than wall time does.
#
#   bash scripts/node-start-time.sh [RUNS] [VERSION...]     (default: 3 runs of 4.1.10 and 5.0.9)
# Ports: PITR_TEST_PORT_BASE+8 (default 19042+8). Nodes live in .tmp/start-time-<version>.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
versions=("$@"); [ ${#versions[@]} -gt 0 ] || versions=(4.1.10 5.0.9)
port=$(( ${PITR_TEST_PORT_BASE:-19042} + 8 ))
tick=$(getconf CLK_TCK)
d=""
# A failed start must not leave a JVM behind.
trap '[ -z "$d" ] || bash scripts/cassandra-node.sh stop "$d" >/dev/null 2>&1 || true' EXIT
for i in $(seq 1 "$runs"); do
  for v in "${versions[@]}"; do
    d=.tmp/start-time-$v; rm -rf "$d"
    s=$(date +%s%N)
    CASSANDRA_VERSION=$v bash scripts/cassandra-node.sh start "$d" --port-base "$port" 2>/dev/null
    e=$(date +%s%N)
    cpu=$(awk -v t="$tick" '{printf "%.1f", ($14+$15)/t}' "/proc/$(cat "$d/node.pid")/stat")
    first=$(head -n 1 "$d/logs/system.log" | awk '{print $4}')
    up=$(grep -m1 "Startup complete" "$d/logs/system.log" | awk '{print $4}')
    printf '%s run %d: start %.1f s wall; log %s -> %s; JVM CPU %s s; load %s\n' \
      "$v" "$i" "$(( (e - s) / 1000000 ))e-3" "$first" "$up" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
    bash scripts/cassandra-node.sh stop "$d" 2>/dev/null
    rm -rf "$d"
  done
done
