"""How far one retraining moves the dev scores: train pipelines again with other seeds.

Each NAME=CONFIG (and, with --spacy-default, spaCy's default CPU tagger + morphologizer
config for the language, as benchmarks/ewt_benchmark.py trains it) is trained once per
seed with `--system.seed SEED`, everything else as the config says, and scored on dev
with gold tokens and from raw text (spaCy's scorer). The JSON is rewritten after every
run, so a stopped run keeps what it finished, and the same command run again skips the
runs it holds. Use one --models-dir per treebank: a model there is reused when its config
and overrides match.

python benchmarks/seed_spread.py --lang hu --train TRAIN.spacy --dev DEV.spacy \\
    --config fast=configs/ud_fast.cfg --spacy-default --seeds 1 2 \\
    --models-dir training/seeds/hu --output benchmarks/results/seed_spread_hu.json
"""

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import spacy
import torch
from ewt_benchmark import BASELINE, baseline_config, dev_scores, log, train
from machine import machine_description


def named_config(value: str) -> Tuple[str, Path]:
    name, _, path = value.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CONFIG, got {value!r}")
    return name, Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--lang", required=True, help="spaCy language code, passed as --nlp.lang")
    parser.add_argument("--config", type=named_config, action="append", default=[], metavar="NAME=CONFIG")
    parser.add_argument("--spacy-default", action="store_true", help="also spaCy's default CPU config")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--models-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    args.models_dir.mkdir(parents=True, exist_ok=True)
    configs: List[Tuple[str, Path]] = list(args.config)
    if args.spacy_default:
        configs.append((BASELINE, baseline_config(args.models_dir, args.lang)))
    if not configs:
        parser.error("give at least one --config NAME=CONFIG or --spacy-default")
    results: Dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "lang": args.lang,
        "train": str(args.train),
        "dev": str(args.dev),
        "machine": machine_description(),
        "versions": {
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "torch": torch.__version__,
        },
        "runs": json.loads(args.output.read_text())["runs"] if args.output.exists() else [],
    }
    done = {(run["name"], run["seed"]) for run in results["runs"]}
    for seed in args.seeds:
        for name, config in configs:
            if (name, seed) in done:
                log(f"{name} seed {seed}: scored in {args.output} already")
                continue
            output = args.models_dir / f"{name}_seed{seed}"
            overrides = ["--nlp.lang", args.lang, "--system.seed", str(seed)]
            record = train(f"{name} seed {seed}", config, args.train, args.dev, output, True, overrides)
            gold, raw = dev_scores(output / "model-best", args.dev)
            log(f"{name} seed {seed}: gold tokens {gold}, raw text {raw}")
            run = {"name": name, "config": str(config), "seed": seed, "scores": gold, "raw_text_scores": raw}
            results["runs"].append({**run, "train_seconds": record["train_seconds"]})
            args.output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
