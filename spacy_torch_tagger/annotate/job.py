"""One annotation run: check the input, plan the shards, tag the pending ones with
the chosen engine, check every shard's record count, write the manifest."""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

from .progress import Progress
from .reading import BadInputError, BadLine, Document, input_files, read_input
from .shards import ShardPlan, ShardSink, count_records, finished_shards, prepare_output, write_manifest

MAX_REPORTED = 100  # bad lines printed on stderr; the manifest lists all of them
RAY_WRITERS = ("driver", "datasink")


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
    ray_writer: str = "driver"  # ray: "driver" (this process writes) or "datasink" (Ray Data writes)


@dataclass
class InputScan:
    """What a first pass over the input found."""

    n_lines: int = 0
    blank_lines: int = 0
    documents_per_shard: Dict[int, int] = field(default_factory=dict)
    bad_lines: List[BadLine] = field(default_factory=list)

    @property
    def n_documents(self) -> int:
        return sum(self.documents_per_shard.values())


def pipeline_reference(pipeline: str) -> str:
    """An existing directory's absolute path (as every process and node needs it), else
    the name as given (an installed package)."""
    path = Path(pipeline)
    return str(path.resolve()) if path.is_dir() else pipeline


def scan_input(options: AnnotateOptions, log: IO[str]) -> InputScan:
    """Count lines and documents per shard; report every malformed line on `log`."""
    scan = InputScan()
    documents = 0
    for item in read_input(options.input, options.text_field, options.id_field):
        if isinstance(item, Document):
            shard = item.position // options.shard_size
            scan.documents_per_shard[shard] = scan.documents_per_shard.get(shard, 0) + 1
            documents += 1
        else:
            scan.bad_lines.append(item)
            if len(scan.bad_lines) <= MAX_REPORTED:
                action = "skipped" if options.on_bad_line == "skip" else "malformed"
                print(f"annotate: {action}: {item.describe(options.input)}", file=log)
    for _name, path in input_files(options.input):
        with path.open("rb") as file:
            scan.n_lines += sum(1 for _ in file)
    scan.blank_lines = scan.n_lines - documents - len(scan.bad_lines)
    if len(scan.bad_lines) > MAX_REPORTED:
        print(f"annotate: ... and {len(scan.bad_lines) - MAX_REPORTED} more malformed lines", file=log)
    return scan


def annotate(options: AnnotateOptions, log: Optional[IO[str]] = None) -> Dict[str, Any]:
    """Run, write `_manifest.json` and `_SUCCESS`, return the manifest. Raises BadInputError
    (missing input, malformed lines under "fail") before anything is tagged. Reports go
    to `log` (default: stderr)."""
    log = log or sys.stderr
    if options.shard_size < 1 or options.batch_size < 1:
        raise BadInputError("--shard-size and --batch-size must be at least 1")
    if options.ray_writer not in RAY_WRITERS:
        raise BadInputError(
            f"--ray-writer must be one of {', '.join(RAY_WRITERS)}, not {options.ray_writer!r}"
        )
    scan = scan_input(options, log)
    if scan.bad_lines and options.on_bad_line != "skip":
        first = scan.bad_lines[0]
        raise BadInputError(
            f"{len(scan.bad_lines)} malformed input line(s), the first at {first.describe(options.input)}; "
            "fix them, or pass --on-bad-line skip to leave them out (they are counted in the manifest)"
        )
    plan = ShardPlan(scan.n_lines, options.shard_size, options.format)
    pipeline = pipeline_reference(options.pipeline)
    layout = {
        "pipeline": pipeline,
        "inputs": [{"file": name, "bytes": path.stat().st_size} for name, path in input_files(options.input)],
        "text_field": options.text_field,
        "id_field": options.id_field,
        "shard_size": options.shard_size,
        "format": options.format,
    }
    prepare_output(options.output, layout)
    earlier = finished_shards(options.output, plan)
    pending = [k for k in range(plan.n_shards) if k not in earlier]
    pending_set = set(pending)
    documents = (
        item
        for item in read_input(options.input, options.text_field, options.id_field)
        if isinstance(item, Document) and plan.shard_of(item.position) in pending_set
    )
    sink = ShardSink(options.output, plan, pending)
    progress = Progress(
        sum(scan.documents_per_shard.get(k, 0) for k in pending), options.progress and bool(pending)
    )
    written: Dict[int, int] = {}
    ray_writes = options.engine == "ray" and options.ray_writer == "datasink"
    ray_options: Dict[str, Any] = {
        "n_workers": options.n_process,
        "batch_size": options.batch_size,
        "address": options.ray_address,
        "max_retries": options.max_retries,
    }
    try:
        if pending and ray_writes:
            from .ray_datasink import annotate_ray_datasink

            written = annotate_ray_datasink(
                pipeline, documents, options.output, plan, pending, progress, **ray_options
            )
        elif pending and options.engine == "ray":
            from .ray_engine import annotate_ray

            annotate_ray(pipeline, documents, sink, progress, **ray_options)
        elif pending:
            import spacy

            from .local_engine import annotate_local

            annotate_local(
                spacy.load(pipeline), documents, sink, progress, options.n_process or 1, options.batch_size
            )
        if not ray_writes:
            sink.finish()
            written = sink.counts
    finally:
        progress.close()
    manifest = _manifest(options, plan, scan, written, earlier, progress)
    write_manifest(options.output, manifest)
    print(
        f"annotate: {manifest['records']} records in {plan.n_shards} shards under {options.output} "
        f"({len(pending)} written now, {len(earlier)} kept; {len(scan.bad_lines)} malformed lines skipped)",
        file=log,
    )
    return manifest


def _manifest(
    options: AnnotateOptions,
    plan: ShardPlan,
    scan: InputScan,
    written: Dict[int, int],
    earlier: set,
    progress: Progress,
) -> Dict[str, Any]:
    shards = []
    for k in range(plan.n_shards):
        records = written[k] if k in written else count_records(options.output / plan.name(k), plan.format)
        expected = scan.documents_per_shard.get(k, 0)
        if records != expected:
            raise RuntimeError(
                f"{plan.name(k)} holds {records} records where its input lines hold {expected} documents"
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
        "pipeline": pipeline_reference(options.pipeline),
        "input": str(options.input),
        "format": plan.format,
        "engine": options.engine,
        **({"ray_writer": options.ray_writer} if options.engine == "ray" else {}),
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
