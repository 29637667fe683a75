#!/usr/bin/env bash
# Crash and resume through the served deployment, the way an operator meets it (issue 6, item 4):
#   A. kill -9 of the flow-run process mid-run (serve stays up): the run ends Crashed;
#      `prefect flow-run retry <id>` re-runs the same run id and recomputes only the unfinished batches.
#   B. kill -9 of serve's whole process group mid-run (a power cut, as far as Prefect can tell):
#      serve is restarted and `prefect deployment run` with the same parameters recomputes only
#      the unfinished batches.
#   C. the work-pool variant: flows/prefect.yaml deployed to a `process` pool, one worker started
#      (after `set -m`), `prefect deployment run sanitize/default --watch` exits 0.
# All end Completed, and every run folder holds the same clean images as one uninterrupted CLI run.
# Uses its own Prefect home and port (nothing touches .prefect/ or a server on :4200).
#
#   bash scripts/prefect_checks.sh [N_IMAGES]     (default 48 images of sample_data, batches of 8)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-48}
WORK=$(mktemp -d /tmp/ufm-crash-retry.XXXXXX)
export PREFECT_HOME="$WORK/prefect" PREFECT_API_URL="http://127.0.0.1:4291/api"
source scripts/serve.sh
PREFECT="$UFM_VENV/bin/prefect"
PY="$UFM_VENV/bin/python"

mkdir -p "$WORK/in"
find sample_data/images -type f -name '*.png' | sort | head -n "$N" | while read -r f; do
    rel=${f#sample_data/images/}
    mkdir -p "$WORK/in/$(dirname "$rel")"
    cp "$f" "$WORK/in/$rel"
done
echo "input: $(find "$WORK/in" -type f | wc -l) images under $WORK/in"

state() {  # state RUN_ID -> the flow run's state name
    "$PY" - "$1" <<'PY'
import sys
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    print(client.read_flow_run(sys.argv[1]).state.name)
PY
}

start_run() {  # start_run OUT_DIR [DEPLOYMENT] -> prints the new flow run's id
    "$PREFECT" deployment run "${2:-sanitize/local}" \
        --params "{\"input_dir\": \"$WORK/in\", \"output_dir\": \"$1\", \"options\": {\"batch_size\": 8, \"device\": \"cpu\"}}" \
        | sed -n 's/.*UUID: *\([0-9a-f-]\{36\}\).*/\1/p' | head -n1
}

wait_parts() {  # wait_parts OUT_DIR N: until N scan parts exist (then the run is part-way)
    local deadline=$((SECONDS + 600))
    until (($(find "$1/.work/scan" -name '*.parquet' 2>/dev/null | wc -l) >= $2)); do
        ((SECONDS < deadline)) || { echo "error: no progress in $1" >&2; return 1; }
        sleep 0.5
    done
}

wait_final() {  # wait_final RUN_ID: until a terminal state; prints it
    local s deadline=$((SECONDS + 1200))
    while :; do
        s=$(state "$1")
        case $s in Completed | Failed | Crashed | Cancelled) echo "$s"; return 0 ;; esac
        ((SECONDS < deadline)) || { echo "timeout ($s)"; return 1; }
        sleep 1
    done
}

batch_counts() {  # the run's "N batches (a from cache, b reused parts, c computed, d failed)" log lines
    "$PREFECT" flow-run logs "$1" 2>/dev/null | grep -o '\(scan\|sanitize\): [0-9]* batches ([^)]*)' || true
}

trap 'ufm_serve_stop; rm -rf "$WORK"' EXIT
ufm_serve_start

echo "== A: kill -9 of the flow-run process, then prefect flow-run retry"
ID_A=$(start_run "$WORK/run_a")
wait_parts "$WORK/run_a" 2
pkill -KILL -P "$UFM_SERVE_PID"  # the flow-run subprocess(es) of serve
echo "killed mid-run with $(find "$WORK/run_a/.work/scan" -name '*.parquet' | wc -l) scan parts written; state: $(wait_final "$ID_A")"
"$PREFECT" flow-run retry "$ID_A" >/dev/null
echo "after retry: $(wait_final "$ID_A")"
batch_counts "$ID_A"

echo "== B: kill -9 of serve's process group, restart serve, run the deployment again"
ID_B=$(start_run "$WORK/run_b")
wait_parts "$WORK/run_b" 2
kill -KILL -- "-$UFM_SERVE_PID"
wait "$UFM_SERVE_PID" 2>/dev/null || true
echo "killed serve with $(find "$WORK/run_b/.work/scan" -name '*.parquet' | wc -l) scan parts written; the run stays $(state "$ID_B") on the server"
ufm_serve_deployments serve2.log  # serve restarted against the same server
ID_B2=$(start_run "$WORK/run_b")
echo "rerun: $(wait_final "$ID_B2")"
batch_counts "$ID_B2"

echo "== C: work pool from flows/prefect.yaml, one process worker"
"$PREFECT" work-pool create ufm-check-pool --type process --overwrite >/dev/null
sed 's/name: local-process/name: ufm-check-pool/' flows/prefect.yaml >"$WORK/prefect.yaml"
UFMCLEAN_ROOT=$PWD "$PREFECT" --no-prompt deploy --all --prefect-file "$WORK/prefect.yaml" >"$PREFECT_HOME/deploy.log" 2>&1
"$PREFECT" worker start --pool ufm-check-pool --limit 1 --install-policy never >"$PREFECT_HOME/worker.log" 2>&1 &
WORKER_PID=$!
trap '_ufm_stop_one "$WORKER_PID"; ufm_serve_stop; rm -rf "$WORK"' EXIT
ID_C=$(start_run "$WORK/run_c" sanitize/default)
echo "pool run: $(wait_final "$ID_C")"
_ufm_stop_one "$WORKER_PID"
pgrep -f "worker start --pool ufm-check-pool" >/dev/null && echo "error: the worker is still running" >&2

echo "== reference: one uninterrupted CLI run"
"$UFM_VENV/bin/ufmclean" sanitize "$WORK/in" --out "$WORK/run_ref" --device cpu >/dev/null
digest() { (cd "$1/clean" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
REF=$(digest "$WORK/run_ref")
echo "clean/ digests: A $(digest "$WORK/run_a"), B $(digest "$WORK/run_b"), C $(digest "$WORK/run_c"), uninterrupted $REF"
for r in a b c; do
    [[ $(digest "$WORK/run_$r") == "$REF" ]] || { echo "MISMATCH: run_$r differs from the uninterrupted run" >&2; exit 1; }
done
echo "OK: the resumed runs and the pool run equal the uninterrupted run"
