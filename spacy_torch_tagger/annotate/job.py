"""One annotation run: read the input once (validate, hash, describe the shards), check
the output directory's resume key, tag the pending shards with the chosen engine,
check every shard's record count, write the manifest and `_SUCCESS`.

An interrupt (KeyboardInterrupt) or an error leaves no temporary file behind: the
shards already renamed stay, and the same command resumes from them.
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence, Set

from ..layers.batch_exactness import inexact_note
from .fingerprint import PipelineSource, file_sha256, locate_pipeline
from .input_errors import BadInputError
from .layout import layout_key
from .progress import Progress
from .reading import ShardSource, read_shard
from .scan import InputScan, scan_input
from .shards import (
    SUFFIXES,
    ShardPlan,
    ShardSink,
    count_records,
    finished_shards,
    prepare_output,
    remove_temporary_files,
    write_manifest,
)
from .user_code import import_code, resolve_code

MAX_REPORTED = 100  # bad lines printed on stderr; the manifest lists all of them
ENGINES = ("local", "ray")
ON_BAD_LINE = ("fail", "skip")


@dataclass
class AnnotateOptions:
    pipeline: str  # a pipeline directory or an installed package name
    input: Path
    output: Path
    engine: str = "local"  # "local" or "ray"
    n_process: Optional[int] = None  # local: processes (default 1); ray: actors (default: the CPUs)
    batch_size: int = 256
    text_field: str = "text"
    id_field: Optional[str] = "id"
    format: str = "jsonl"  # "jsonl" or "docbin"
    on_bad_line: str = "fail"  # "fail" or "skip"
    shard_size: int = 10_000
    ray_address: Optional[str] = None
    progress: bool = True
    max_retries: Optional[int] = None  # ray: None keeps Ray Data's default (no limit)
    code: Optional[Path] = None  # a Python file imported before the pipeline loads
    verbose: bool = False  # ray: Ray's INFO logs and Ray Data's progress bars
    # spacy.load(pipeline, config=...) in every process: dotted keys, as spaCy's CLI parses them
    config_overrides: Dict[str, Any] = field(default_factory=dict)


def check_options(options: AnnotateOptions) -> None:
    """Raise BadInputError for a setting out of its range."""
    if options.shard_size < 1 or options.batch_size < 1:
        raise BadInputError("--shard-size and --batch-size must be at least 1")
    if options.n_process is not None and options.n_process < 1:
        raise BadInputError("--n-process must be at least 1")
    for name, value, allowed in (
        ("--engine", options.engine, ENGINES),
        ("--format", options.format, tuple(SUFFIXES)),
        ("--on-bad-line", options.on_bad_line, ON_BAD_LINE),
    ):
        if value not in allowed:
            raise BadInputError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def report_bad_lines(scan: InputScan, options: AnnotateOptions, log: IO[str]) -> None:
    """Print the first MAX_REPORTED malformed lines on `log`; raise BadInputError if
    there are any and they may not be skipped."""
    action = "skipped" if options.on_bad_line == "skip" else "malformed"
    for bad in scan.bad_lines[:MAX_REPORTED]:
        print(f"annotate: {action}: {bad.describe(options.input)}", file=log)
    if len(scan.bad_lines) > MAX_REPORTED:
        print(f"annotate: ... and {len(scan.bad_lines) - MAX_REPORTED} more malformed lines", file=log)
    if scan.bad_lines and options.on_bad_line != "skip":
        first = scan.bad_lines[0]
        raise BadInputError(
            f"{len(scan.bad_lines)} malformed input line(s), the first at {first.describe(options.input)}; "
            "fix them, or pass --on-bad-line skip to leave them out (they are counted in the manifest)"
        )


def annotate(options: AnnotateOptions, log: Optional[IO[str]] = None) -> Dict[str, Any]:
    """Run, write `_manifest.json` and `_SUCCESS`, return the manifest. Raises
    BadInputError (a missing input, pipeline or --code file, malformed lines under
    "fail") and LayoutMismatchError before anything is tagged. Reports go to `log`
    (default: stderr)."""
    log = log or sys.stderr
    check_options(options)
    code = resolve_code(options.code)
    code_path = str(code) if code else None
    pipeline = locate_pipeline(options.pipeline)
    config = pipeline.config(options.config_overrides)
    note = inexact_note(config) if config is not None else None
    if note:
        print(f"annotate: note: {note}", file=log)
    scan = scan_input(options.input, options.shard_size, options.text_field, options.id_field)
    report_bad_lines(scan, options, log)
    plan = ShardPlan(scan.n_lines, options.shard_size, options.format)
    layout = layout_key(
        scan.files,
        pipeline.sha256,
        file_sha256(code) if code else None,
        options.text_field,
        options.id_field,
        options.shard_size,
        options.format,
        options.config_overrides,
    )
    prepare_output(options.output, layout)
    earlier = finished_shards(options.output, plan)
    pending = [source for source in scan.shards if source.shard not in earlier]
    progress = Progress(sum(source.documents for source in pending), options.progress and bool(pending))
    try:
        import_code(code_path)
        written = _tag(options, pipeline, code_path, plan, pending, progress)
    except BaseException:
        remove_temporary_files(options.output)
        raise
    finally:
        progress.close()
    manifest = _manifest(options, pipeline, plan, scan, written, earlier, progress)
    write_manifest(options.output, manifest)
    print(
        f"annotate: {manifest['records']} records in {plan.n_shards} shards under {options.output} "
        f"({len(pending)} written now, {len(earlier)} kept; {len(scan.bad_lines)} malformed lines skipped)",
        file=log,
    )
    return manifest


def _tag(
    options: AnnotateOptions,
    pipeline: PipelineSource,
    code: Optional[str],
    plan: ShardPlan,
    pending: Sequence[ShardSource],
    progress: Progress,
) -> Dict[int, int]:
    """Tag and write the `pending` shards; return the records written per shard."""
    if not pending:
        return {}
    if options.engine == "ray":
        from .ray_engine import ShardTask, annotate_ray

        task = ShardTask(
            pipeline=pipeline.reference,
            code=code,
            input=str(options.input.resolve()),
            text_field=options.text_field,
            id_field=options.id_field,
            format=options.format,
            batch_size=options.batch_size,
            config_overrides=options.config_overrides,
        )
        counts = annotate_ray(
            task,
            pending,
            options.output,
            plan,
            progress,
            n_workers=options.n_process,
            address=options.ray_address,
            max_retries=options.max_retries,
            verbose=options.verbose,
        )
        progress.set(
            sum(records for records, _ in counts.values()), sum(words for _, words in counts.values())
        )
        return {shard: records for shard, (records, _words) in counts.items()}
    import spacy

    from .local_engine import annotate_local

    nlp = spacy.load(pipeline.reference, config=options.config_overrides)
    documents = (
        document
        for source in pending
        for document in read_shard(options.input, source, options.text_field, options.id_field, nlp.vocab)
    )
    sink = ShardSink(options.output, plan, [source.shard for source in pending])
    annotate_local(
        nlp,
        documents,
        sink,
        progress,
        options.n_process or 1,
        options.batch_size,
        code,
    )
    sink.finish()
    return sink.counts


def _manifest(
    options: AnnotateOptions,
    pipeline: PipelineSource,
    plan: ShardPlan,
    scan: InputScan,
    written: Dict[int, int],
    earlier: Set[int],
    progress: Progress,
) -> Dict[str, Any]:
    shards: List[Dict[str, Any]] = []
    for source in scan.shards:
        k = source.shard
        records = written[k] if k in written else count_records(options.output / plan.name(k), plan.format)
        if records != source.documents:
            raise RuntimeError(
                f"{plan.name(k)} holds {records} records where its input lines hold "
                f"{source.documents} documents"
            )
        lines = plan.lines(k)
        shards.append(
            {
                "name": plan.name(k),
                "first_position": lines.start,
                "lines": len(lines),
                "records": records,
                "written": "earlier run" if k in earlier else "this run",
            }
        )
    return {
        "pipeline": pipeline.reference,
        "pipeline_sha256": pipeline.sha256,
        "config_overrides": options.config_overrides,
        "input": str(options.input),
        "inputs": [{"file": f.file, "bytes": f.bytes, "sha256": f.sha256} for f in scan.files],
        "format": plan.format,
        "engine": options.engine,
        "shard_size": plan.shard_size,
        "lines": scan.n_lines,
        "documents": scan.n_documents,
        "records": sum(shard["records"] for shard in shards),
        "blank_lines": scan.blank_lines,
        "bad_lines_skipped": len(scan.bad_lines),
        "bad_lines": [{"file": b.file, "line": b.line, "reason": b.reason} for b in scan.bad_lines],
        "shards": shards,
        "tagged_this_run": {
            "documents": progress.docs,
            "words": progress.words,
            "seconds": round(progress.seconds, 3),
            "words_per_second": round(progress.words_per_second, 1),
        },
    }
