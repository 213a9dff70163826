#!/usr/bin/env bash
# On the GPU machine, in the repository root, with .gpu/ from prepare.sh carried: trains
# CONFIG (default configs/ewt_fast.cfg) with spacy train --gpu-id 0 (extra arguments are
# config overrides, e.g. --training.max_steps 2000 to fit a call's 10 minutes), evaluates
# model-best there on EWT dev from raw text and on gold tokens (spacy evaluate's words/s
# on the GPU), and leaves in $OUT the versions, the training log with its wall-clock time,
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
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -n "$SITE" ]; then
    tar xJf "$SITE" -C "$WORK"
    export PYTHONPATH="$WORK/site312"
fi
"$PYTHON" -c "import platform, spacy, thinc, torch
print('python', platform.python_version(), 'spacy', spacy.__version__, 'thinc', thinc.__version__,
      'torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))" \
    | tee "$OUT/versions.txt"
start=$(date +%s)
"$PYTHON" -m spacy train "$CONFIG" --gpu-id "$GPU_ID" --output "$WORK/model" \
    --paths.train "$DATA/en_ewt-ud-train.spacy" --paths.dev "$DATA/en_ewt-ud-dev.spacy" "$@" 2>&1 \
    | tee "$OUT/train.log"
echo "train_seconds $(( $(date +%s) - start ))" | tee -a "$OUT/train.log"
for view in raw gold; do
    gold=(); [ "$view" = gold ] && gold=(--gold-preproc)
    "$PYTHON" -m spacy evaluate "$WORK/model/model-best" "$DATA/en_ewt-ud-dev.spacy" --gpu-id "$GPU_ID" \
        "${gold[@]}" --output "$OUT/evaluate_$view.json" > /dev/null
done
tar czf "$OUT/model-best.tar.gz" -C "$WORK/model" model-best
ls -la "$OUT"
