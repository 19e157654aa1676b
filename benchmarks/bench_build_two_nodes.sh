#!/bin/bash
# The same recipe on a 2-node Ray cluster on this machine (head + worker, 1 CPU each, started as a
# user would) and on a local Ray; the shards compared byte for byte.
#   benchmarks/bench_build_two_nodes.sh [SAMPLES] [WORK]      (default 100000, /tmp/mixkit-two-nodes)
# Ray 2.60 notes: a head started where ~/.ray/auth_token exists turns on token auth, and
# `ray start --address` joins it only with RAY_AUTH_MODE=token (RAY_AUTH_TOKEN alone is not enough);
# the second raylet needs its own agent/metrics ports; the client server port must lie outside the
# worker port range (10002-19999). Each `ray start --block` is ended by its own pid (no `ray stop`,
# which would end every Ray on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python}
RAY=$(dirname "$(command -v "$PY")")/ray
N=${1:-100000}
W=${2:-/tmp/mixkit-two-nodes}
PORT=${PORT:-6391}
rm -rf "$W" && mkdir -p "$W"
RAY_AUTH_MODE=token setsid "$RAY" start --head --port "$PORT" --num-cpus 1 --include-dashboard false \
    --ray-client-server-port 23391 --block > "$W/head.log" 2>&1 & HEAD=$!
sleep 15
RAY_AUTH_MODE=token setsid "$RAY" start --address "127.0.0.1:$PORT" --num-cpus 1 --dashboard-agent-listen-port 52391 \
    --metrics-export-port 58391 --runtime-env-agent-port 59391 --block > "$W/worker.log" 2>&1 & WORKER=$!
trap 'kill $WORKER 2>/dev/null; sleep 5; kill $HEAD 2>/dev/null' EXIT
sleep 15
"$PY" benchmarks/bench_build.py --samples "$N" --image-kb 2 --work "$W/cluster" --keep --address "127.0.0.1:$PORT" \
    --json "$W/cluster.json"
kill $WORKER; sleep 5; kill $HEAD; trap - EXIT
"$PY" benchmarks/bench_build.py --samples "$N" --image-kb 2 --work "$W/local" --keep --json "$W/local.json"
"$PY" scripts/compare_builds.py "$W/local/run_$N" "$W/cluster/run_$N" | tail -2
(cd "$W/local/run_$N/shards" && sha256sum ./*.tar) > "$W/local.sha"
(cd "$W/cluster/run_$N/shards" && sha256sum ./*.tar) > "$W/cluster.sha"
cmp "$W/local.sha" "$W/cluster.sha" && echo "shards byte-identical: $(wc -l < "$W/local.sha") tars"
