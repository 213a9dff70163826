"""Dev accuracy of trained torch_tagger pipelines in each precision mode.

Loads each pipeline three times, tagging in float32, with the int8 copy
(`int8_inference = true`) and under bfloat16 autocast (`precision =
"bfloat16"`), and scores UPOS, XPOS and FEATS with spaCy's scorer on gold tokens
(one sentence per doc, as `spacy evaluate --gold-preproc`) and on the raw dev
docs through the pipeline's tokenizer (as `spacy evaluate`). The question it
answers: how much accuracy does a faster mode cost against float32?

usage: python benchmarks/precision_accuracy.py DEV.spacy NAME=PIPELINE [NAME=PIPELINE ...]
           [--output FILE.json]
"""

import argparse
import json
import platform
from pathlib import Path
from typing import Dict

import spacy
import torch
from spacy.training import Corpus

MODES: Dict[str, Dict[str, object]] = {
    "float32": {"int8_inference": False, "precision": "float32"},
    "int8": {"int8_inference": True, "precision": "float32"},
    "bfloat16": {"int8_inference": False, "precision": "bfloat16"},
}
KEYS = ("pos_acc", "tag_acc", "morph_acc")


def scores(pipeline: Path, dev: Path, mode: str) -> Dict[str, Dict[str, float]]:
    """UPOS/XPOS/FEATS (percent) on gold tokens and on raw text, tagging in `mode`."""
    nlp = spacy.load(pipeline, config={"components": {"torch_tagger": {"model": MODES[mode]}}})
    result = {}
    for view, gold_preproc in (("gold_tokens", True), ("raw_text", False)):
        examples = list(Corpus(str(dev), gold_preproc=gold_preproc)(nlp))
        measured = nlp.evaluate(examples)
        result[view] = {key: round(100 * measured[key], 2) for key in KEYS}
    return result


def markdown(report: Dict[str, Dict[str, Dict[str, Dict[str, float]]]]) -> str:
    """One row per pipeline and mode, with the change from float32."""
    lines = [
        "| pipeline | mode | UPOS | XPOS | FEATS | UPOS raw | XPOS raw | FEATS raw |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, modes in report.items():
        base = modes["float32"]
        for mode, measured in modes.items():
            cells = []
            for view in ("gold_tokens", "raw_text"):
                for key in KEYS:
                    value = measured[view][key]
                    change = value - base[view][key]
                    cells.append(f"{value:.2f}" if mode == "float32" else f"{value:.2f} ({change:+.2f})")
            lines.append(f"| {name} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="dev docs in spaCy's binary format")
    parser.add_argument("pipelines", nargs="+", help="NAME=PIPELINE_DIR")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report: Dict[str, Dict[str, Dict[str, Dict[str, float]]]] = {}
    for item in args.pipelines:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: give pipelines as NAME=PIPELINE_DIR")
        report[name] = {mode: scores(Path(path), args.dev, mode) for mode in MODES}
        print(f"{name}: {json.dumps(report[name])}", flush=True)
    table = markdown(report)
    print(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        context = {"dev": str(args.dev), "torch": torch.__version__, "machine": platform.machine()}
        args.output.write_text(json.dumps({**context, "pipelines": report}, indent=2) + "\n")
        args.output.with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
