"""`python -m spacy torch-tagger calibrate PIPELINE DEV_PATH --output DIR`: fit the
temperature of each target of a trained torch_tagger on held-out data, print the
expected calibration error (ECE) before and after, save the calibrated pipeline. Like
spaCy's own commands it leaves its input alone: it overwrites PIPELINE only when
asked to (--in-place, or --output naming PIPELINE itself)."""

from pathlib import Path
from typing import Annotated, Optional

import typer
from spacy.cli._util import Arg, Opt, import_code
from spacy.util import is_package
from wasabi import msg

from .failure import fail
from .group import CODE_HELP, GPU_HELP, OVERRIDES, config_overrides, torch_tagger_cli
from .loading import check_pipeline, load_pipeline, use_device


@torch_tagger_cli.command("calibrate", context_settings=OVERRIDES, no_args_is_help=True)
def calibrate_cli(
    ctx: typer.Context,
    pipeline: Annotated[str, Arg(help="A trained pipeline: a directory or an installed package")],
    data_path: Annotated[Path, Arg(help="Held-out data: a .spacy file or a directory of them", exists=True)],
    output_path: Annotated[
        Optional[Path],
        Opt("--output", "-o", help="Directory to save the calibrated pipeline to", file_okay=False),
    ] = None,
    in_place: Annotated[
        bool, Opt("--in-place", help="Save the calibrated pipeline over the input one")
    ] = False,
    component: Annotated[
        Optional[str], Opt("--component", help="The torch_tagger's name, if several")
    ] = None,
    metrics_path: Annotated[
        Optional[Path], Opt("--metrics", "-m", help="Output JSON file for the results", dir_okay=False)
    ] = None,
    code_path: Annotated[Optional[Path], Opt("--code", "-c", help=CODE_HELP)] = None,
    use_gpu: Annotated[int, Opt("--gpu-id", "-g", help=GPU_HELP)] = -1,
) -> None:
    """
    Calibrate a torch_tagger's probabilities on held-out data. Fits one temperature
    per target, prints each target's tokens, accuracy, temperature and expected
    calibration error (ECE) before and after, and saves the calibrated pipeline to
    --output (over the input pipeline only with --in-place). Config overrides
    (--components.torch_tagger.model.int8_inference true) apply to the loaded
    pipeline and are saved with it.
    """
    import srsly
    from spacy.training import Corpus

    from ..calibration.calibrate import CalibrationError, calibrate

    overrides = config_overrides(ctx)
    output = _output_directory(pipeline, output_path, in_place)
    if data_path.is_file() and data_path.suffix != ".spacy":
        fail(f"The dev data must be a .spacy file or a directory of them, not {data_path}.")
    check_pipeline(pipeline)
    import_code(code_path)
    use_device(use_gpu)
    nlp = load_pipeline(pipeline, overrides)
    examples = list(Corpus(data_path)(nlp))
    if not examples:
        fail(f"{data_path} holds no documents.")
    try:
        report = calibrate(nlp, examples, component)
    except CalibrationError as error:
        fail(f"Can't calibrate: {error}")
    msg.divider(f"torch_tagger '{report.component}' on {data_path} ({len(examples)} docs)")
    rows = [
        (
            target,
            result.tokens,
            f"{100 * result.accuracy:.2f}",
            f"{result.temperature:.3f}",
            f"{100 * result.ece_before:.2f}",
            f"{100 * result.ece_after:.2f}",
        )
        for target, result in report.targets.items()
    ]
    header = ("target", "tokens", "acc (%)", "T", "ECE before (%)", "ECE after (%)")
    msg.table(rows, header=header, aligns=("l", "r", "r", "r", "r", "r"))
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    msg.good(f"Saved the calibrated pipeline to {output}")
    if metrics_path is not None:
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(metrics_path, {"pipeline": pipeline, "dev": str(data_path), **report.to_dict()})
        msg.good(f"Saved the results to {metrics_path}")


def _output_directory(pipeline: str, output: Optional[Path], in_place: bool) -> Path:
    """Where the calibrated pipeline goes; exit with a message where that would
    overwrite PIPELINE unasked, or cannot."""
    if not in_place:
        if output is None:
            fail(
                "Where should the calibrated pipeline go? calibrate leaves PIPELINE as it is.",
                f"Give a directory with --output, or --in-place to overwrite {pipeline}.",
            )
        return output
    if is_package(pipeline) or not Path(pipeline).is_dir():
        fail(f"--in-place overwrites a pipeline directory; {pipeline} is not one.", "Give --output DIR.")
    if output is not None and output.resolve() != Path(pipeline).resolve():
        fail(f"--in-place saves over {pipeline}, but --output names {output}.", "Give one of the two.")
    return Path(pipeline)
