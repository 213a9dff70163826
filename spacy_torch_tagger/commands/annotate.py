"""`python -m spacy_torch_tagger annotate PIPELINE INPUT OUTPUT`: tag a corpus of JSONL
or text lines into a directory of shards, on local processes or a Ray cluster;
resumable, one record per input document (see spacy_torch_tagger/annotate/)."""

import argparse
import sys
from pathlib import Path

NAME = "annotate"
INTERRUPTED = "annotate: interrupted; rerun the same command to resume"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
HELP = "Tag a JSONL/text corpus into resumable shards of records (local processes or Ray)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="a pipeline directory or an installed pipeline package")
    parser.add_argument(
        "input", type=Path, help="a .jsonl file, a text file (a document per line) or a directory"
    )
    parser.add_argument("output", type=Path, help="the directory of shards, _manifest.json and _SUCCESS")
    parser.add_argument("--engine", choices=["local", "ray"], default="local", help="default: local")
    parser.add_argument(
        "--n-process",
        type=int,
        default=None,
        help="local: worker processes (default 1); ray: actors (default: one per CPU of the cluster)",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="documents per batch (default 256)")
    parser.add_argument("--text-field", default="text", help="the JSONL field of the text (default: text)")
    parser.add_argument(
        "--id-field", default="id", help="the JSONL field copied to the record as id (default: id)"
    )
    parser.add_argument(
        "--format",
        choices=["jsonl", "docbin"],
        default="jsonl",
        help="shards of JSON lines or .spacy DocBins",
    )
    parser.add_argument(
        "--on-bad-line",
        choices=["fail", "skip"],
        default="fail",
        help="a malformed input line fails the run before tagging (default) or is skipped; either way "
        "it is reported on stderr with its file and line",
    )
    parser.add_argument(
        "--shard-size", type=int, default=10_000, help="input lines per output shard (default 10000)"
    )
    parser.add_argument(
        "--ray-address", default=None, help="the Ray cluster to join (e.g. auto); default: a local one"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="ray: restarts of a dead worker and retries of its shard (default: Ray Data's, no limit)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=None,
        help="a Python file imported before the pipeline loads (its custom components and functions), "
        "in this process, nlp.pipe's workers and every Ray actor",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--verbose", action="store_true", help="ray: Ray's INFO logs and Ray Data's progress bars on stderr"
    )


def run(args: argparse.Namespace) -> int:
    """Annotate; 1 with a message on stderr when the input, pipeline, output or engine
    is unusable; 130 with one line on stderr when interrupted (Ctrl-C)."""
    try:
        return _annotate(args)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED


def _annotate(args: argparse.Namespace) -> int:
    from ..annotate.job import AnnotateOptions, annotate
    from ..annotate.layout import LayoutMismatchError
    from ..annotate.ray_engine import RayMissingError
    from ..annotate.reading import BadInputError

    options = AnnotateOptions(
        pipeline=args.pipeline,
        input=args.input,
        output=args.output,
        engine=args.engine,
        n_process=args.n_process,
        batch_size=args.batch_size,
        text_field=args.text_field,
        id_field=args.id_field or None,
        format=args.format,
        on_bad_line=args.on_bad_line,
        shard_size=args.shard_size,
        ray_address=args.ray_address,
        progress=not args.no_progress,
        max_retries=args.max_retries,
        code=args.code,
        verbose=args.verbose,
    )
    try:
        annotate(options)
    except (BadInputError, LayoutMismatchError, RayMissingError) as error:
        print(f"annotate: {error}", file=sys.stderr)
        return 1
    return 0
