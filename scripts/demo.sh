#!/usr/bin/env bash
# The main job on sample_data/ through Prefect, the way a data-prep stage runs it:
#   1. stamp a canary into a copy of the labelled images (the positive control verify scores);
#   2. start a local Prefect server (127.0.0.1) and serve sanitize/local + verify/local (scripts/serve.sh);
#   3. prefect deployment run sanitize/local --watch, then verify/local --watch (short probe settings);
#   4. print where report.html and verify.html are; stop both processes by PID (also on failure).
# UFM_DEMO_PER_CLASS=N runs it on the first N images of each class only (a quick check of the wiring).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/serve.sh
UFM="$UFM_VENV/bin/ufmclean"
PREFECT="$UFM_VENV/bin/prefect"
OUT="$PWD/runs/demo"
rm -rf "$OUT"
mkdir -p "$OUT"
t0=$SECONDS

SRC=sample_data/images
LABELS=(--labels sample_data/labels.csv)
if [[ -n ${UFM_DEMO_PER_CLASS:-} ]]; then
    SRC="$OUT/subset"
    for dir in sample_data/images/*/; do
        cls=$(basename "$dir")
        mkdir -p "$SRC/$cls"
        find "$dir" -maxdepth 1 -type f | sort | head -n "$UFM_DEMO_PER_CLASS" | xargs -I{} cp {} "$SRC/$cls/"
    done
    LABELS=()  # labels come from the class folder names
fi
"$UFM" canary "$SRC" "${LABELS[@]}" --text "JANE CANARY" --k 1 --out "$OUT/canaried"

trap 'ufm_serve_stop' EXIT
ufm_serve_start

echo "== sanitize/local on $OUT/canaried"
"$PREFECT" deployment run sanitize/local \
    --param input_dir="$OUT/canaried" --param output_dir="$OUT/run" --watch --watch-timeout 3600

echo "== verify/local (2 seeds, 4 epochs at 64 px: a quick look, not a full verification)"
"$PREFECT" deployment run verify/local \
    --params "{\"original\": \"$OUT/canaried\", \"sanitized\": \"$OUT/run\", \"out_dir\": \"$OUT/verify\",
               \"settings\": {\"seeds\": 2, \"epochs\": 4, \"size\": 64, \"gradcam_images\": 2, \"max_features\": 10}}" \
    --watch --watch-timeout 3600

ufm_serve_stop
trap - EXIT
echo
echo "Demo finished in $((SECONDS - t0)) s; server and serve process stopped."
echo "Sanitize report (mode 0600, recognised text masked): $OUT/run/report.html"
echo "Run tables and summary:                             $OUT/run/{images,findings}.parquet, $OUT/run/summary.json"
echo "Verify report:                                      $OUT/verify/verify.html"
echo "Prefect history (UI with 'make serve'):             .prefect/ (server.log, serve.log)"
