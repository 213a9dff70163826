#!/usr/bin/env bash
# Run here, where the package registry is reachable, before a GPU check: gathers into
# .gpu/ (git-ignored) what benchmarks/gpu/check.sh needs on the GPU machine, whose image
# has Python 3.12, torch and CuPy but no spaCy and no network: spaCy and its dependencies
# for Python 3.12 (benchmarks/gpu/requirements-py312.txt) and this package, installed
# into a folder and packed with xz (the wheels' 60 MB would not fit the 64 MiB a call
# carries), and the EWT train and dev DocBins. Then, with the device tool:
#   run(command="bash benchmarks/gpu/check.sh --training.max_steps 2000", carry=[".gpu"], timeout_s=590)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
TARGET=(--only-binary=:all: --python-version 3.12 --implementation cp
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
rm -rf .gpu
mkdir -p .gpu/wheels .gpu/data
"$PYTHON" -m pip download --quiet --no-deps "${TARGET[@]}" -d .gpu/wheels -r benchmarks/gpu/requirements-py312.txt
"$PYTHON" -m pip wheel --quiet --no-deps . -w .gpu/wheels
"$PYTHON" -m pip install --quiet --no-deps --no-compile "${TARGET[@]}" --target .gpu/site312 .gpu/wheels/*.whl
tar cJf .gpu/site312.tar.xz -C .gpu site312
rm -rf .gpu/site312 .gpu/wheels
cp training/ewt_corpus/en_ewt-ud-train.spacy training/ewt_corpus/en_ewt-ud-dev.spacy .gpu/data/
du -sh .gpu
