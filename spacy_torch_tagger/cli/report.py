"""`python -m spacy torch-tagger report PIPELINE DATA_PATH --output DIR`: evaluate a
pipeline (optionally beside another, --compare) as `spacy evaluate` does, print the
headline numbers and write DIR/report.md, DIR/report.json and PNG figures
(matplotlib: the `report` extra)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Dict, List, Optional

import typer
from spacy.cli._util import Arg, Opt, import_code
from wasabi import msg

from ..extras import install_hint
from .failure import fail
from .group import CODE_HELP, GPU_HELP, OVERRIDES, config_overrides, torch_tagger_cli
from .loading import check_pipeline, load_pipeline, use_device

if TYPE_CHECKING:
    from ..report.build import ReportWriter
    from ..report.tokens import ProbabilityOf

# The rows of the headline table: spacy evaluate's labels for the scores the report has.
HEADLINE_SCORES = {"TOK": "token_acc", "TAG": "tag_acc", "POS": "pos_acc", "MORPH": "morph_acc"}
MATPLOTLIB_HINT = install_hint("report")
TRAIN_HELP = "The training data (.spacy): accuracy by word frequency in it"


@torch_tagger_cli.command("report", context_settings=OVERRIDES, no_args_is_help=True)
def report_cli(
    ctx: typer.Context,
    pipeline: Annotated[str, Arg(help="The pipeline to evaluate: a directory or an installed package")],
    data_path: Annotated[Path, Arg(help="Evaluation data in .spacy format", exists=True, dir_okay=False)],
    output_dir: Annotated[Path, Opt("--output", "-o", help="Directory for the report", file_okay=False)],
    compare: Annotated[
        Optional[str], Opt("--compare", help="A second pipeline, shown beside the first")
    ] = None,
    train_path: Annotated[
        Optional[Path], Opt("--train", help=TRAIN_HELP, exists=True, dir_okay=False)
    ] = None,
    gold_preproc: Annotated[bool, Opt("--gold-preproc", "-G", help="Use gold preprocessing")] = False,
    code_path: Annotated[Optional[Path], Opt("--code", "-c", help=CODE_HELP)] = None,
    use_gpu: Annotated[int, Opt("--gpu-id", "-g", help=GPU_HELP)] = -1,
) -> None:
    """
    Evaluate a pipeline and write a report with figures. Works with a torch_tagger or
    any other pipeline (e.g. spaCy's tagger). Prints the accuracy per target (the
    numbers spacy evaluate prints) and the expected calibration error (ECE) where the
    pipeline gives probabilities; writes per-label scores, confusions, accuracy by
    band and reliability diagrams. Config overrides
    (--components.torch_tagger.model.int8_inference true) apply to the first
    pipeline, not to --compare.
    """
    overrides = config_overrides(ctx)
    _require_matplotlib()
    for path in (data_path, train_path):
        if path is not None and path.suffix != ".spacy":
            fail(f"{path} is not a .spacy file.", "Convert it with python -m spacy convert.")
    pipelines = [pipeline] + ([compare] if compare is not None else [])
    for name in pipelines:
        check_pipeline(name)
    import_code(code_path)
    use_device(use_gpu)
    writer = write_report(
        pipelines,
        data_path,
        output_dir,
        overrides=overrides,
        train_path=train_path,
        gold_preproc=gold_preproc,
    )
    header = _headline_header(writer)
    aligns = ["l"] + ["r"] * (len(header) - 1)
    msg.table(headline_rows(writer), header=header, aligns=aligns, divider=True, max_col=60, title="Results")
    figures = len(list(output_dir.glob("*.png")))
    msg.good(f"Wrote {output_dir / 'report.md'}, report.json and {figures} figures")


def write_report(
    pipelines: List[str],
    data_path: Path,
    output_dir: Path,
    *,
    overrides: Optional[Dict[str, Any]] = None,
    train_path: Optional[Path] = None,
    gold_preproc: bool = False,
    probability_of: Optional["ProbabilityOf"] = None,
) -> "ReportWriter":
    """Load and evaluate each pipeline (the config overrides apply to the first), write
    the report; exit with a message where the data holds no documents.

    probability_of(token, target) -> Optional[float] gives the probability of a predicted
    token's label for the reliability diagrams; by default, a torch_tagger's own (switched
    on for the report); where it gives None, the diagram is skipped.
    """
    from ..pipeline.component import TorchTagger
    from ..report.build import ReportWriter
    from ..report.evaluation import evaluate, load_examples
    from ..report.tokens import torch_tagger_probability, training_word_counts

    names = pipeline_names([Path(name) for name in pipelines])
    if overrides:
        names[0] += " (overridden)"
    evaluations = []
    word_counts = None
    for i, (name, pipeline) in enumerate(zip(names, pipelines, strict=True)):
        nlp = load_pipeline(pipeline, (overrides or {}) if i == 0 else {})
        for _, pipe in nlp.pipeline:
            if isinstance(pipe, TorchTagger):
                pipe.probabilities = True
        if word_counts is None and train_path is not None:
            word_counts = training_word_counts(nlp, train_path)
        examples = load_examples(nlp, data_path, gold_preproc)
        if not examples:
            fail(f"{data_path} holds no documents.")
        evaluations.append(evaluate(name, pipeline, nlp, examples))
    writer = ReportWriter(
        evaluations,
        output_dir,
        data_path=data_path,
        gold_preproc=gold_preproc,
        word_counts=word_counts,
        train_path=train_path,
        probability_of=probability_of or torch_tagger_probability,
    )
    writer.write()
    return writer


def headline_rows(writer: "ReportWriter") -> List[List[str]]:
    """spacy evaluate's accuracy rows (in %, two decimals) for each pipeline, then the
    ECE (in %) of each target a pipeline gives probabilities for; with two pipelines,
    the difference second − first."""
    rows = []
    for label, key in HEADLINE_SCORES.items():
        values = [evaluation.scores.get(key) for evaluation in writer.evaluations]
        if any(value is not None for value in values):
            rows.append(_row(label, values))
    for target in writer.targets:
        reliabilities = [
            analyses[target].reliability if target in analyses else None for analyses in writer.analyses
        ]
        values = [None if rel is None else rel.expected_calibration_error for rel in reliabilities]
        if any(value is not None for value in values):
            rows.append(_row(f"{target.upper()} ECE", values))
    return rows


def pipeline_names(paths: List[Path]) -> List[str]:
    """Short distinct names: the pipelines' directory names, with as many parent
    directories as it takes to tell them apart (`a/model-best`, `b/model-best`)."""
    resolved = [path.resolve() for path in paths]
    for k in range(1, max(len(path.parts) for path in resolved) + 1):
        names = ["/".join(path.parts[-k:]) for path in resolved]
        if len(set(names)) == len(names):
            return names
    return [str(path) for path in paths]


def _row(label: str, values: List[Optional[float]]) -> List[str]:
    row = [label] + ["-" if value is None else f"{100 * value:.2f}" for value in values]
    if len(values) == 2:
        first, second = values
        row.append("-" if first is None or second is None else f"{100 * (second - first):+.2f}")
    return row


def _headline_header(writer: "ReportWriter") -> List[str]:
    names = [evaluation.name for evaluation in writer.evaluations]
    return ["", *names, "difference"] if len(names) == 2 else ["", *names]


def _require_matplotlib() -> None:
    """Exit with a message before any evaluation where matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail("The report draws its figures with matplotlib, which is not installed.", MATPLOTLIB_HINT)
