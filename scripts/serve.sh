#!/usr/bin/env bash
# A local Prefect server (127.0.0.1 only) plus the served deployments sanitize/local and verify/local.
#
#   bash scripts/serve.sh      (what `make serve` runs) keeps both in the foreground until Ctrl-C or
#                              SIGTERM, then stops them; from another shell with the same environment:
#                              prefect deployment run sanitize/local --param input_dir=... --param output_dir=... --watch
#   source scripts/serve.sh    (scripts/demo.sh) only defines ufm_serve_start / ufm_serve_stop.
#
# Both processes are started after `set -m`: each gets its own process group, so SIGTERM reaches them
# (a job started with `&` from a non-interactive shell otherwise ignores SIGINT) and a stop can
# also clear the flow-run subprocesses they spawned. Logs go to $PREFECT_HOME/{server,serve}.log.

# Offline and quiet defaults (the Makefile exports the same values).
export PREFECT_HOME="${PREFECT_HOME:-$PWD/.prefect}"
export PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:4200/api}"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
export DO_NOT_TRACK="${DO_NOT_TRACK:-1}"
export PREFECT_SERVER_EPHEMERAL_ENABLED="${PREFECT_SERVER_EPHEMERAL_ENABLED:-false}"
export PREFECT_LOGGING_EXTRA_LOGGERS="${PREFECT_LOGGING_EXTRA_LOGGERS:-ufmclean}"
export PREFECT_UI_SHOW_PROMOTIONAL_CONTENT=false
UFM_VENV="${UFM_VENV:-.venv}"
UFM_SERVER_PID=""
UFM_SERVE_PID=""

_ufm_healthy() {
    "$UFM_VENV/bin/python" - "$PREFECT_API_URL/health" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
PY
}

_ufm_wait() {  # _ufm_wait SECONDS PID DESCRIPTION COMMAND...: poll COMMAND every 0.5 s while PID lives
    local secs=$1 pid=$2 what=$3
    local deadline=$((SECONDS + secs))
    shift 3 || return 2
    (($# > 0)) || { echo "_ufm_wait: no command to poll" >&2; return 2; }  # an empty command would "succeed" at once
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then echo "error: $what exited; see $PREFECT_HOME/*.log" >&2; return 1; fi
        if ((SECONDS >= deadline)); then echo "error: $what not ready after $secs s" >&2; return 1; fi
        sleep 0.5
    done
}

_ufm_deployments_ready() {  # (`prefect deployment inspect` exits 0 even when the deployment is missing)
    "$UFM_VENV/bin/python" - sanitize/local verify/local <<'PY'
import sys
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    for name in sys.argv[1:]:
        client.read_deployment_by_name(name)  # raises ObjectNotFound until serve registered it
PY
}

ufm_serve_start() {
    set -m
    local hostport=${PREFECT_API_URL#*://}
    hostport=${hostport%%/*}
    local host=${hostport%:*} port=${hostport##*:}
    if [[ $host != 127.0.0.1 && $host != localhost ]]; then
        echo "error: PREFECT_API_URL must point at 127.0.0.1 for a local server (got $host)" >&2; return 1
    fi
    if _ufm_healthy; then
        echo "error: a Prefect server already answers at $PREFECT_API_URL; stop it (or use another port) first" >&2
        return 1
    fi
    mkdir -p "$PREFECT_HOME"
    local t0=$SECONDS
    "$UFM_VENV/bin/prefect" server start --host 127.0.0.1 --port "$port" >"$PREFECT_HOME/server.log" 2>&1 &
    UFM_SERVER_PID=$!
    _ufm_wait 120 "$UFM_SERVER_PID" "the Prefect server" _ufm_healthy || return 1
    echo "Prefect server up at ${PREFECT_API_URL%/api} (pid $UFM_SERVER_PID, $((SECONDS - t0)) s)"
    ufm_serve_deployments serve.log || return 1
    echo "serving sanitize/local and verify/local (pid $UFM_SERVE_PID, $((SECONDS - t0)) s)"
}

ufm_serve_deployments() {  # ufm_serve_deployments LOG: start `python -m flows.serve` (log in $PREFECT_HOME/LOG), wait for its deployments
    "$UFM_VENV/bin/python" -m flows.serve >"$PREFECT_HOME/$1" 2>&1 &
    UFM_SERVE_PID=$!
    _ufm_wait 120 "$UFM_SERVE_PID" "the serve process" _ufm_deployments_ready
}

_ufm_stop_one() {  # SIGTERM the process, wait up to 30 s, then clear what is left of its process group
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    if kill -0 -- "-$pid" 2>/dev/null; then  # children (flow runs) left in its group
        kill -TERM -- "-$pid" 2>/dev/null || true
        sleep 2
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

ufm_serve_stop() {
    # The serve process first (it pauses its deployments through the API), then the server.
    _ufm_stop_one "$UFM_SERVE_PID"
    UFM_SERVE_PID=""
    _ufm_stop_one "$UFM_SERVER_PID"
    UFM_SERVER_PID=""
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    cd "$(dirname "$0")/.."
    trap 'ufm_serve_stop; echo stopped.' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ufm_serve_start
    echo "UI: ${PREFECT_API_URL%/api}   Ctrl-C stops both."
    echo "Run: prefect deployment run sanitize/local --param input_dir=DATA --param output_dir=runs/NAME --watch"
    wait -n "$UFM_SERVER_PID" "$UFM_SERVE_PID" || true
    echo "a process exited; stopping" >&2
fi
