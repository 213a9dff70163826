"""`python -m spacy_torch_tagger calibrate PIPELINE_DIR DEV_PATH`: fit the
temperature of each target of a trained torch_tagger on held-out data, print
the expected calibration error (ECE) before and after, save the pipeline."""

import argparse
import sys
from pathlib import Path

NAME = "calibrate"
HELP = "Fit a torch_tagger's probability temperatures on dev data; print ECE before and after."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", type=Path, help="a trained pipeline directory (e.g. training/model-best)")
    parser.add_argument("dev", type=Path, help="held-out data: a .spacy file or a folder of them")
    parser.add_argument(
        "--output", type=Path, default=None, help="where to save the calibrated pipeline (default: in place)"
    )
    parser.add_argument("--component", default=None, help="the torch_tagger's name when there are several")
    parser.add_argument("--metrics", type=Path, default=None, help="also write the results to this JSON file")


def run(args: argparse.Namespace) -> int:
    """Calibrate, report, save; 1 with a message on stderr when the input is unusable."""
    import spacy
    import srsly
    from spacy.training import Corpus

    from ..calibrate_pipeline import CalibrationError, calibrate

    if not (args.pipeline / "config.cfg").is_file():
        return _fail(f"{args.pipeline} is not a spaCy pipeline directory (no config.cfg in it).")
    if not args.dev.exists():
        return _fail(f"the dev data {args.dev} does not exist.")
    if args.dev.is_file() and args.dev.suffix != ".spacy":
        return _fail(f"the dev data must be a .spacy file (or a folder of them), got {args.dev}.")
    nlp = spacy.load(args.pipeline)
    examples = list(Corpus(args.dev)(nlp))
    if not examples:
        return _fail(f"{args.dev} holds no documents.")
    try:
        report = calibrate(nlp, examples, args.component)
    except CalibrationError as error:
        return _fail(str(error))
    print(f"torch_tagger '{report.component}' on {args.dev} ({len(examples)} docs)")
    print(f"{'target':<8} {'tokens':>7} {'acc':>6} {'T':>7} {'ECE before':>11} {'ECE after':>10}")
    for target, result in report.targets.items():
        print(
            f"{target:<8} {result.tokens:>7} {result.accuracy:>6.3f} {result.temperature:>7.3f} "
            f"{result.ece_before:>11.4f} {result.ece_after:>10.4f}"
        )
    output = args.output or args.pipeline
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    print(f"Saved the calibrated pipeline to {output}")
    if args.metrics is not None:
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(
            args.metrics, {"pipeline": str(args.pipeline), "dev": str(args.dev), **report.to_dict()}
        )
    return 0


def _fail(message: str) -> int:
    print(f"calibrate: error: {message}", file=sys.stderr)
    return 1
