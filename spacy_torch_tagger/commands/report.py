"""`python -m spacy_torch_tagger report PIPELINE DATA --output DIR`: evaluate a pipeline
(optionally beside another, `--compare`) and write DIR/report.md, DIR/report.json and
PNG figures (matplotlib: the `report` extra)."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:
    from ..report.tokens import ProbabilityOf

NAME = "report"
HELP = "Evaluate a pipeline on a .spacy corpus (optionally beside another); write report.md with figures."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", type=Path, help="the pipeline to evaluate (a directory spacy.load reads)")
    parser.add_argument("data", type=Path, help="the evaluation corpus (.spacy)")
    parser.add_argument(
        "--compare", type=Path, default=None, help="a second pipeline, shown beside the first"
    )
    parser.add_argument(
        "--output", type=Path, required=True, help="the directory for report.md and the figures"
    )
    parser.add_argument(
        "--train",
        type=Path,
        default=None,
        help="the training corpus (.spacy): accuracy by word frequency in it",
    )
    parser.add_argument(
        "--gold-preproc", action="store_true", help="tag the gold tokens, as `spacy evaluate --gold-preproc`"
    )


def pipeline_names(paths: List[Path]) -> List[str]:
    """Short distinct names: the pipelines' directory names, with as many parent
    directories as it takes to tell them apart (`a/model-best`, `b/model-best`)."""
    resolved = [path.resolve() for path in paths]
    for k in range(1, max(len(path.parts) for path in resolved) + 1):
        names = ["/".join(path.parts[-k:]) for path in resolved]
        if len(set(names)) == len(names):
            return names
    return [str(path) for path in paths]


def _fail(message: str) -> int:
    print(f"report: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace, probability_of: Optional["ProbabilityOf"] = None) -> int:
    """Evaluate, analyse, draw and write; 1 with a message on stderr when the input is unusable.

    probability_of(token, target) -> Optional[float] gives the probability of a predicted
    token's label for the reliability diagrams; by default, a torch_tagger's own (switched on
    for the report); where it gives None, the diagram is skipped.
    """
    import spacy

    from ..component import TorchTagger
    from ..report.build import ReportWriter
    from ..report.evaluation import evaluate, load_examples
    from ..report.tokens import torch_tagger_probability, training_word_counts

    paths = [args.pipeline] + ([args.compare] if args.compare is not None else [])
    for path in paths:
        if not (path / "config.cfg").is_file():
            return _fail(f"{path} is not a spaCy pipeline directory (no config.cfg in it).")
    for path in (args.data, args.train):
        if path is not None and not (path.is_file() and path.suffix == ".spacy"):
            return _fail(f"{path} is not a .spacy file.")
    evaluations = []
    word_counts = None
    for name, path in zip(pipeline_names(paths), paths, strict=True):
        nlp = spacy.load(path)
        for _, pipe in nlp.pipeline:
            if isinstance(pipe, TorchTagger):
                pipe.probabilities = True
        if word_counts is None and args.train is not None:
            word_counts = training_word_counts(nlp, args.train)
        examples = load_examples(nlp, args.data, args.gold_preproc)
        if not examples:
            return _fail(f"{args.data} holds no documents.")
        evaluations.append(evaluate(name, str(path), nlp, examples))
    writer = ReportWriter(
        evaluations,
        args.output,
        data_path=args.data,
        gold_preproc=args.gold_preproc,
        word_counts=word_counts,
        train_path=args.train,
        probability_of=probability_of or torch_tagger_probability,
    )
    report = writer.write()
    print(f"Wrote {report}, report.json and {len(list(args.output.glob('*.png')))} figures.")
    return 0
