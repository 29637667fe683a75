#!/usr/bin/env bash
# The main job on sample_data/ as far as it is built: discover + load every file into a run directory,
# then stamp a canary into a copy of the labelled images (the positive control verify will score).
set -euo pipefail
cd "$(dirname "$0")/.."
UFM=.venv/bin/ufmclean
OUT=runs/demo
rm -rf "$OUT"
mkdir -p "$OUT"
$UFM discover sample_data --out "$OUT/inventory"
$UFM canary sample_data/images --labels sample_data/labels.csv --text "JANE CANARY" --k 1 --out "$OUT/canaried"
echo
echo "Inventory (one row per sample file): $OUT/inventory/images.parquet"
echo "Summary:                             $OUT/inventory/summary.json"
echo "Canaried copy of the images:         $OUT/canaried (canary.json says where)"
