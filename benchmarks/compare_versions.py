"""Words per second of one pipeline under two versions of this package, alternating.

Each round times `nlp.pipe` over the raw dev texts once with the package of this
checkout and once with the package of another checkout (`--before`, put first on
PYTHONPATH), each in a fresh process that loads the pipeline and tags a warm-up
slice first. The result is each version's median words/s and the median of the
per-round ratios (after / before): ratios measured in the same rounds hold where
absolute speeds drift.

A checkout whose modules sit elsewhere than this one's needs an environment whose
entry points name them (spaCy resolves factories through the installed
distribution): give its interpreter as `--before-python`, e.g. a venv that installs
the earlier checkout with `pip install --no-deps -e CHECKOUT`.

usage: python benchmarks/compare_versions.py PIPELINE DEV.spacy --before CHECKOUT
           [--before-python PYTHON] [--rounds 5] [--output FILE.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from machine import machine_description

REPO = Path(__file__).resolve().parent.parent

TIMING = """
import sys, time
import spacy
from spacy.tokens import DocBin

nlp = spacy.load(sys.argv[1])
texts = [doc.text for doc in DocBin().from_disk(sys.argv[2]).get_docs(nlp.vocab)]
list(nlp.pipe(texts[:50]))
start = time.perf_counter()
words = sum(len(doc) for doc in nlp.pipe(texts))
print(words / (time.perf_counter() - start))
"""


def words_per_second(pipeline: str, dev: Path, package_root: Path, python: str) -> float:
    """One timed pass in a fresh process of `python` importing the package from package_root."""
    env = dict(os.environ, PYTHONPATH=str(package_root))
    result = subprocess.run(
        [python, "-c", TIMING, pipeline, str(dev)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument("dev", type=Path, help="dev docs in spaCy's binary format (their texts are tagged)")
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the earlier version")
    parser.add_argument(
        "--before-python", default=sys.executable, help="interpreter for --before (default: this one)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if not (args.before / "spacy_torch_tagger").is_dir():
        parser.error(f"{args.before} holds no spacy_torch_tagger package")
    versions = {"before": args.before.resolve(), "after": REPO}
    pythons = {"before": args.before_python, "after": sys.executable}
    speeds: Dict[str, List[float]] = {name: [] for name in versions}
    for round_number in range(1, args.rounds + 1):
        for name, root in versions.items():
            speeds[name].append(words_per_second(args.pipeline, args.dev, root, pythons[name]))
        before, after = speeds["before"][-1], speeds["after"][-1]
        print(f"round {round_number}: before {before:,.0f}, after {after:,.0f} words/s", flush=True)
    ratios = [after / before for after, before in zip(speeds["after"], speeds["before"], strict=True)]
    report = {
        "pipeline": args.pipeline,
        "dev": str(args.dev),
        "before": str(versions["before"]),
        "rounds": args.rounds,
        "words_per_second": {name: [round(speed) for speed in values] for name, values in speeds.items()},
        "median_words_per_second": {name: round(statistics.median(speed)) for name, speed in speeds.items()},
        "median_ratio_after_to_before": round(statistics.median(ratios), 3),
        "machine": machine_description(),
    }
    print(json.dumps(report, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
