"""`python -m spacy torch-tagger annotate PIPELINE INPUT OUTPUT`: tag a corpus of JSONL
or text lines or DocBins into a directory of shards, on local processes or a Ray cluster;
resumable, one record per input document (spacy_torch_tagger/annotate/). Its input
and options follow `spacy apply`'s where they mean the same."""

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from spacy.cli._util import Arg, Opt, show_validation_error
from wasabi import msg

from ..annotate.input_errors import BadInputError
from ..annotate.job import AnnotateOptions, annotate
from ..annotate.layout import LayoutMismatchError
from ..annotate.ray_engine import RayMissingError
from .failure import fail
from .group import CODE_HELP, GPU_HELP, OVERRIDES, config_overrides, torch_tagger_cli
from .loading import use_device

INTERRUPTED = "annotate: interrupted; rerun the same command to resume"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
INPUT_HELP = """A .jsonl file (a JSON object per line; also .ndjson, .json), a .spacy
DocBin (each Doc tagged on its own tokens), a text file (a document per line) or a
directory of them (every file whose path has no part starting with . or _, sorted)"""
OUTPUT_HELP = "Directory of shards, _manifest.json and _SUCCESS; the same command resumes into it"
N_PROCESS_HELP = "local: processes (default 1); ray: actors (default: one per CPU of the cluster)"
ENGINE_HELP = "This machine's processes, or a Ray cluster (needs Ray Data, the [ray] extra)"
FORMAT_HELP = "Shards of JSON lines or of .spacy DocBins"
BAD_LINE_HELP = "A malformed input line fails the run before tagging, or is skipped (reported either way)"
RAY_ADDRESS_HELP = "ray: the cluster to join (e.g. auto); default: a local one started for the run"
MAX_RETRIES_HELP = "ray: restarts of a dead worker and retries of its shard (default: no limit)"
SHARD_SIZE_HELP = "Input lines (or DocBin Docs) per output shard"
VERBOSE_HELP = "ray: Ray's INFO logs and Ray Data's progress bars on stderr"


@torch_tagger_cli.command("annotate", context_settings=OVERRIDES, no_args_is_help=True)
def annotate_cli(
    ctx: typer.Context,
    pipeline: Annotated[str, Arg(help="An installed pipeline package or a pipeline directory")],
    data_path: Annotated[Path, Arg(help=INPUT_HELP, exists=True)],
    output_dir: Annotated[Path, Arg(help=OUTPUT_HELP, file_okay=False)],
    code_path: Annotated[
        Optional[Path], Opt("--code", "-c", help=f"{CODE_HELP}, here and in every worker")
    ] = None,
    text_key: Annotated[str, Opt("--text-key", "-tk", help="Key containing text string for JSONL")] = "text",
    id_key: Annotated[
        str, Opt("--id-key", help="Key copied to the record as its id for JSONL ('' for none)")
    ] = "id",
    text_field: Annotated[
        Optional[str], Opt("--text-field", hidden=True, help="Deprecated: --text-key")
    ] = None,
    id_field: Annotated[Optional[str], Opt("--id-field", hidden=True, help="Deprecated: --id-key")] = None,
    use_gpu: Annotated[int, Opt("--gpu-id", "-g", help=f"{GPU_HELP} (the local engine, one process)")] = -1,
    batch_size: Annotated[int, Opt("--batch-size", "-b", min=1, help="Documents per nlp.pipe batch")] = 256,
    n_process: Annotated[Optional[int], Opt("--n-process", "-n", min=1, help=N_PROCESS_HELP)] = None,
    engine: Annotated[Literal["local", "ray"], Opt("--engine", help=ENGINE_HELP)] = "local",
    output_format: Annotated[Literal["jsonl", "docbin"], Opt("--format", help=FORMAT_HELP)] = "jsonl",
    on_bad_line: Annotated[Literal["fail", "skip"], Opt("--on-bad-line", help=BAD_LINE_HELP)] = "fail",
    shard_size: Annotated[int, Opt("--shard-size", min=1, help=SHARD_SIZE_HELP)] = 10_000,
    ray_address: Annotated[Optional[str], Opt("--ray-address", help=RAY_ADDRESS_HELP)] = None,
    max_retries: Annotated[Optional[int], Opt("--max-retries", min=0, help=MAX_RETRIES_HELP)] = None,
    no_progress: Annotated[bool, Opt("--no-progress", help="No progress bar on stderr")] = False,
    verbose: Annotated[bool, Opt("--verbose", help=VERBOSE_HELP)] = False,
) -> None:
    """
    Tag a corpus into resumable shards of records. Each input document gets one
    record in input order, with the pipeline's annotations (JSON lines or DocBins),
    on this machine's processes or a Ray cluster. A rerun of the same command
    resumes: finished shards are kept. Config overrides
    (--components.torch_tagger.top_k 3) apply to the pipeline in every process and
    are part of the resume key.
    """
    text_key = _renamed(text_key, "text", text_field, "--text-key", "--text-field")
    id_key = _renamed(id_key, "id", id_field, "--id-key", "--id-field")
    if use_gpu >= 0 and (engine == "ray" or (n_process or 1) > 1):
        fail(
            f"--gpu-id {use_gpu} runs the pipeline in this process only.",
            "Use it with the local engine and one process (no --n-process), or leave it out.",
        )
    overrides = config_overrides(ctx)
    if engine == "local":
        use_device(use_gpu)
    options = AnnotateOptions(
        pipeline=pipeline,
        input=data_path,
        output=output_dir,
        engine=engine,
        n_process=n_process,
        batch_size=batch_size,
        text_field=text_key,
        id_field=id_key or None,
        format=output_format,
        on_bad_line=on_bad_line,
        shard_size=shard_size,
        ray_address=ray_address,
        progress=not no_progress,
        max_retries=max_retries,
        code=code_path,
        verbose=verbose,
        config_overrides=overrides,
    )
    _run(options)


def _renamed(value: str, default: str, old_value: Optional[str], name: str, old_name: str) -> str:
    """The value of an option given by its name or by its deprecated old name."""
    if old_value is None:
        return value
    msg.warn(f"{old_name} is deprecated and will be removed: use {name}, as spacy apply does.")
    if value not in (default, old_value):
        fail(f"{name} {value!r} and {old_name} {old_value!r} disagree.", f"Give {name} only.")
    return old_value


def _run(options: AnnotateOptions) -> None:
    """Annotate; exit 1 with a message when the input, pipeline, output or engine is
    unusable, 130 with one line on stderr when interrupted (Ctrl-C)."""
    try:
        with show_validation_error(hint_fill=False):
            annotate(options)
    except (BadInputError, LayoutMismatchError, RayMissingError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
