#!/usr/bin/env bash
# Reproduce the MOSI (bc-LSTM features) table: every zoo model x 5 seeds x context off/on.
# Usage: bash recipes/mosi_bclstm/run.sh [DATA_DIR]   (default: ../shared/data/mosi_bclstm)
set -euo pipefail
DATA="${1:-${EMOFUSE_DATA:-../shared/data}/mosi_bclstm}"
OUT="${OUT:-runs/mosi_bclstm}"
emofuse benchmark --train "$DATA/train.npz" --valid "$DATA/dev.npz" \
  --config "$(dirname "$0")/benchmark.yaml" --seeds 5 --context both --output-dir "$OUT"
# Train and keep one checkpoint (context on, the recipe's best family) for `emofuse evaluate`:
emofuse train "$(dirname "$0")/train.yaml" --set data.train="$DATA/train.npz" --set data.valid="$DATA/dev.npz" \
  --output-dir "$OUT/checkpoint"
# The withheld official test file has the same format and keys as dev.npz:
#   emofuse evaluate "$OUT/checkpoint" path/to/test.npz --json
# Seed ensembles (mean of the 5 members' probabilities; section "bc-LSTM and seed ensembles" of the README):
python "$(dirname "$0")/ensemble.py" --data-dir "$(dirname "$DATA")" --config "$(dirname "$0")/train_bclstm.yaml" \
  --seeds 0-4 --out "$OUT/ensemble_bclstm"
python "$(dirname "$0")/ensemble.py" --data-dir "$(dirname "$DATA")" --config "$(dirname "$0")/train.yaml" \
  --seeds 0-4 --out "$OUT/ensemble_gated"
