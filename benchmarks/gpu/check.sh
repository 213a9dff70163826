#!/usr/bin/env bash
# On the GPU machine, in the repository root, with .gpu/ from prepare.sh carried: trains
# CONFIG (default configs/ewt_fast.cfg) with spacy train --gpu-id 0 for at most
# TRAIN_LIMIT seconds (extra arguments are config overrides, e.g. --training.max_steps
# 2000), evaluates model-best there on EWT dev from raw text and on gold tokens (spacy
# evaluate's words/s on the GPU), and leaves in $OUT the versions, the training log with its wall-clock time,
# both evaluations' JSON and model-best as model-best.tar.gz, to load on the CPU here:
#   tar xzf model-best.tar.gz -C training/gpu_fast
#   python -m spacy evaluate training/gpu_fast/model-best training/ewt_corpus/en_ewt-ud-dev.spacy
# PYTHON, GPU_ID and SITE (the packed site folder; "" to use PYTHON's own packages) let
# the same script run on a CPU: PYTHON=.venv/bin/python GPU_ID=-1 SITE= bash benchmarks/gpu/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
GPU_ID=${GPU_ID:-0}
SITE=${SITE-.gpu/site312.tar.xz}
CONFIG=${CONFIG:-configs/ewt_fast.cfg}
DATA=${DATA:-.gpu/data}
OUT=${OUT:-/tmp/gpu_check_out}
TRAIN_LIMIT=${TRAIN_LIMIT:-420}  # seconds: a call has 10 minutes, evaluation and packing need the rest
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -n "$SITE" ]; then
    tar xJf "$SITE" -C "$WORK"
    export PYTHONPATH="$WORK/site312"
fi
# Versions, and whether thinc can use the GPU through CuPy (spacy train --gpu-id needs it):
# the image's torch (2.11) is below the package's declared floor (2.13) and its CuPy is
# for CUDA 13, newer than thinc's extras name, so this fails fast where either does not work.
"$PYTHON" - "$GPU_ID" <<'PY' 2>&1 | tee "$OUT/versions.txt"
import platform, sys
import spacy, thinc, torch
from thinc.api import require_gpu
import spacy_torch_tagger  # noqa: F401
print("python", platform.python_version(), "spacy", spacy.__version__, "thinc", thinc.__version__,
      "torch", torch.__version__, "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))
if int(sys.argv[1]) >= 0:
    print("thinc on the GPU:", require_gpu(int(sys.argv[1])))
PY
# spacy train under `timeout`, so that what it saved (model-best is saved at each
# evaluation) is still evaluated and returned when the limit comes first.
start=$(date +%s)
status=0
timeout "$TRAIN_LIMIT" "$PYTHON" -m spacy train "$CONFIG" --gpu-id "$GPU_ID" --output "$WORK/model" \
    --paths.train "$DATA/en_ewt-ud-train.spacy" --paths.dev "$DATA/en_ewt-ud-dev.spacy" "$@" 2>&1 \
    | tee "$OUT/train.log" || status=$?
echo "train_seconds $(( $(date +%s) - start )) exit_status $status" | tee -a "$OUT/train.log"
[ -d "$WORK/model/model-best" ] || { echo "no model-best was saved" >&2; exit 1; }
for view in raw gold; do
    gold=(); [ "$view" = gold ] && gold=(--gold-preproc)
    "$PYTHON" -m spacy evaluate "$WORK/model/model-best" "$DATA/en_ewt-ud-dev.spacy" --gpu-id "$GPU_ID" \
        "${gold[@]}" --output "$OUT/evaluate_$view.json" > /dev/null
done
tar czf "$OUT/model-best.tar.gz" -C "$WORK/model" model-best
ls -la "$OUT"
