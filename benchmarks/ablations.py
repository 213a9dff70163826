"""Config variants on UD English-EWT: train each, score it on dev, time it beside spaCy.

A variants file (JSON) names a base config and, per variant, `spacy train` overrides
of it (or another config). Every variant is trained (or reused with --reuse),
scored with spaCy's scorer on gold-token sentences and on raw dev text, and its
words/s measured on the raw dev texts in alternating rounds with spaCy's default
pipeline (a model trained by ewt_benchmark.py). Writes OUTPUT.json and OUTPUT.md.

usage: python benchmarks/ablations.py benchmarks/ablations_fast.json --train TRAIN.spacy
       --dev DEV.spacy --baseline training/ewt_models/spacy_default/model-best
       --models-dir training/ablations --output benchmarks/results/ablations_fast [--reuse]
"""

import argparse
import json
import statistics
from pathlib import Path
from typing import Dict, List

import spacy
from ewt_benchmark import (
    REPO,
    dev_scores,
    dev_texts,
    directory_mb,
    log,
    measure_speed,
    median_ratios,
    run_context,
    score_cells,
    train,
)
from spacy.language import Language

BASELINE = "spaCy default"


def override_args(overrides: Dict[str, object]) -> List[str]:
    """{"training.max_steps": 100} -> ["--training.max_steps", "100"] (values as JSON)."""
    args: List[str] = []
    for key, value in overrides.items():
        args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return args


def markdown_table(rows: List[Dict]) -> str:
    lines = [
        "| variant | change | UPOS | XPOS | FEATS | UPOS raw | XPOS raw | FEATS raw | words/s | × spaCy speed"
        " | train time | size |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['change']} | {score_cells(row['scores'], row['raw_text_scores'])}"
            f" | {row['median_words_per_second']:,.0f}"
            f" | {row['median_ratio_to_spacy']:.2f} | {row['train_seconds'] / 60:.1f} min"
            f" | {row['size_mb']:.1f} MB |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", type=Path, help="JSON: {base, variants: [{name, change, overrides}]}")
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="spaCy's default pipeline, trained")
    parser.add_argument("--models-dir", type=Path, default=REPO / "training" / "ablations")
    parser.add_argument("--output", type=Path, required=True, help="path stem for .json and .md")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="reuse variants trained by an earlier run")
    parser.add_argument("--only", nargs="*", default=None, help="train/score only these variants")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="train the variants, then stop (a later run can --reuse them)",
    )
    args = parser.parse_args()
    spec = json.loads(args.variants.read_text())
    variants = [v for v in spec["variants"] if args.only is None or v["name"] in args.only]
    if not variants:
        parser.error(f"no variant of {args.variants} matches --only {args.only}")

    rows: List[Dict] = []
    pipelines: Dict[str, Language] = {}
    for variant in variants:
        name = variant["name"]
        config = REPO / variant.get("config", spec["base"])
        output = args.models_dir / name
        overrides = override_args(variant.get("overrides", {}))
        record = train(name, config, args.train, args.dev, output, args.reuse, overrides)
        if args.train_only:
            continue
        log(f"{name}: evaluating on dev")
        scores, raw_scores = dev_scores(output / "model-best", args.dev)
        rows.append(
            {
                **variant,
                "config": str(config.relative_to(REPO)),
                **record,
                "size_mb": round(directory_mb(output / "model-best"), 2),
                "scores": scores,
                "raw_text_scores": raw_scores,
            }
        )
        pipelines[name] = spacy.load(output / "model-best")
    if args.train_only:
        return
    pipelines[BASELINE] = spacy.load(args.baseline)

    speeds = measure_speed(pipelines, dev_texts(args.dev), args.rounds)
    ratios = median_ratios(speeds, BASELINE)
    for row in rows:
        row["words_per_second"] = [round(speed) for speed in speeds[row["name"]]]
        row["median_words_per_second"] = round(statistics.median(speeds[row["name"]]))
        row["median_ratio_to_spacy"] = ratios[row["name"]]
    report = {
        **run_context(),
        "base": spec["base"],
        "spacy_words_per_second": round(statistics.median(speeds[BASELINE])),
        "variants": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(rows)
    args.output.with_suffix(".md").write_text(table)
    print(table)
    log(f"wrote {args.output.with_suffix('.json')} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
