#!/bin/bash
# The demo built on a 2-node Ray cluster on this machine (head + worker, 1 CPU each, started as a
# user would, the S3 credentials in each node's environment) with everything in a bucket: the
# steps' folder (--out s3://mix/two, no --work) and the translation cache
# (steps.translate.cache_dir: s3://mix/tcache). A real S3 server (SeaweedFS, tests/s3_server.py)
# on 127.0.0.1. Prints the shards' sha256 (compare with `make demo`'s), the objects written and
# the workers per step.       benchmarks/bench_two_nodes_bucket.sh [WORK]  (default /tmp/mixkit-two-bucket)
# Each `ray start --block` is ended by its own pid (no `ray stop`: it would end every Ray here).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PYTHON:-python}
RAY=$(dirname "$(command -v "$PY")")/ray
W=${1:-/tmp/mixkit-two-bucket}
PORT=${PORT:-6394}
rm -rf "$W" && mkdir -p "$W"
"$PY" - "$W" > "$W/s3.log" 2>&1 <<'PYEOF' & S3=$!
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))      # stop the server on kill (finally below)
sys.path.insert(0, "tests")
from pathlib import Path
from s3_server import S3Server
w = Path(sys.argv[1]); (w / "seaweedfs").mkdir()
srv = S3Server(w / "seaweedfs").start()
(w / "env.sh").write_text("".join(f"export {k}='{v}'\n" for k, v in srv.env().items()))
try:
    while True:
        time.sleep(1)
finally:
    srv.stop()
PYEOF
WORKER="" HEAD=""
# at exit: each node's process group (setsid: its GCS and raylet too), the S3 server, the recipe copy
# (SIGTERM, then SIGKILL: a head's `ray start --block` and GCS outlive a SIGTERM, Ray 2.60)
stop_group() { if [ -n "$1" ]; then kill -- -"$1"; sleep 3; kill -9 -- -"$1"; fi 2>/dev/null || true; }
trap 'set +e; rm -f recipes/.demo_two_bucket.yaml; stop_group "$WORKER"; stop_group "$HEAD"; kill $S3 2>/dev/null;
      rm -f /tmp/ray/ray_current_cluster' EXIT
for _ in $(seq 90); do [ -f "$W/env.sh" ] && break; sleep 1; done
source "$W/env.sh"                       # the credentials, before `ray start`: workers keep the node's environment
export MIXKIT_CACHE_DIR=$W/cache
RAY_AUTH_MODE=token setsid "$RAY" start --head --port "$PORT" --num-cpus 1 --include-dashboard false \
    --ray-client-server-port 23394 --block > "$W/head.log" 2>&1 & HEAD=$!
sleep 15
RAY_AUTH_MODE=token setsid "$RAY" start --address "127.0.0.1:$PORT" --num-cpus 1 --dashboard-agent-listen-port 52394 \
    --metrics-export-port 58394 --runtime-env-agent-port 59394 --block > "$W/worker.log" 2>&1 & WORKER=$!
sed 's#^    phrasebook: demo_data/phrasebook.jsonl#&\n    cache_dir: s3://mix/tcache#' recipes/demo.yaml > recipes/.demo_two_bucket.yaml
sleep 15
"$PY" -m mixkit.cli build recipes/.demo_two_bucket.yaml --out s3://mix/two --address "127.0.0.1:$PORT" --quiet | tail -4
"$PY" - <<'PYEOF'
import hashlib, json, s3fs
fs = s3fs.S3FileSystem()
for p in sorted(fs.find("mix/two/shards")):
    if p.endswith(".tar"):
        print(hashlib.sha256(fs.cat_file(p)).hexdigest(), p.rsplit("/", 1)[1])
m = json.loads(fs.cat_file("mix/two/shards/manifest.json"))
print(f"objects: {len(fs.find('mix/two/steps'))} under steps/, {len(fs.find('mix/tcache'))} in the translation cache; "
      f"engine {m['engine']}; workers per step {[(s['name'], s['workers']) for s in m['steps']]}")
PYEOF
