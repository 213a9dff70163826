"""The Ray engine: a row of Ray Data per pending shard, holding only where the shard's
lines are (reading.ShardSource: files, byte offsets, line numbers, documents). A pool
of actors, each importing --code and loading the pipeline once, reads its shard from
the input itself (the parsing of the first pass, checked against its SHA-256), tags
it and encodes the shard file's bytes; a Ray Data Datasink writes the file where it
runs (atomically) and returns its record count, which this process checks against
the first pass. No document or record passes through this process, so its memory
does not grow with the input; INPUT, OUTPUT, a PIPELINE directory and --code must
therefore be at the same path on every node (a shared filesystem).

Each actor reports its shard's documents and words after every nlp.pipe batch to a
small counter actor, which this process polls for the progress bar while the write
runs. A worker that dies is restarted and its shard retried from the start (Ray
Data's actor pool: `max_restarts=-1`, `max_task_retries=-1`, or `max_retries` each,
which Ray 2.60 accepts with a deprecation warning). Ray's and Ray Data's INFO logs
and progress bars are off unless `verbose`; the DataContext settings and the logger
level changed for the run are restored after it.
"""

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy

from ..extras import install_hint
from .atomic import write_atomically
from .input_errors import BadInputError
from .progress import Progress
from .reading import ShardSource, read_shard
from .records import json_line, source_fields, with_source
from .shards import ShardPlan, shard_content
from .user_code import import_code

INSTALL_HINT = install_hint("ray")
POLL_SECONDS = 0.5
# Write tasks take no CPU, so that they run while the actors hold every CPU; a few
# suffice, as each only writes bytes already encoded.
WRITERS = 1
ShardCounts = Dict[int, Tuple[int, int]]  # shard -> (records, words)


class RayMissingError(ImportError):
    """Ray Data is not installed."""


def require_ray() -> ModuleType:
    """The `ray` module with Ray Data, or RayMissingError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise RayMissingError(
            f"--engine ray needs Ray Data, which is not installed: {INSTALL_HINT}"
        ) from error
    return ray


@dataclass(frozen=True)
class ShardTask:
    """What every actor needs to tag any shard of the run."""

    pipeline: str  # a package name or an absolute path, loaded with spacy.load
    code: Optional[str]  # the --code file's absolute path
    input: str  # the input's absolute path
    text_field: str
    id_field: Optional[str]
    format: str  # "jsonl" or "docbin"
    batch_size: int
    # spacy.load(pipeline, config=...): dotted keys (hash=False: a dict is unhashable)
    config_overrides: Dict[str, Any] = field(default_factory=dict, hash=False)


class ProgressCounter:
    """A Ray actor holding the documents and words tagged so far in each shard; a
    restarted shard's counts replace those of its failed try."""

    def __init__(self) -> None:
        self.counts: ShardCounts = {}

    def report(self, shard: int, documents: int, words: int) -> None:
        self.counts[shard] = (documents, words)

    def totals(self) -> Tuple[int, int]:
        return sum(docs for docs, _ in self.counts.values()), sum(words for _, words in self.counts.values())


class PipelineLoadError(BadInputError):
    """The pipeline did not load on a Ray worker."""


class ShardAnnotator:
    """A Ray Data actor: reads, tags and encodes whole shards (a row each)."""

    def __init__(self, task: ShardTask, counter: Any) -> None:
        self.task = task
        self.counter = counter
        self.load_error: Optional[PipelineLoadError] = None
        try:
            import_code(task.code)
            import spacy

            self.nlp = spacy.load(task.pipeline, config=task.config_overrides)
        except Exception as error:
            # Raised by the first call instead: an error of a call reaches the driver as
            # itself (RayTaskError.cause), one of the constructor only as Ray's text.
            self.load_error = PipelineLoadError(
                f"the pipeline {task.pipeline} did not load on a Ray worker ({type(error).__name__}: "
                f"{error}). Every node loads it: install its package on each, or give a directory at "
                "the same path on each, and pass --code FILE when it has custom components"
            )

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        if self.load_error is not None:
            raise self.load_error
        shards = [self.tag(ShardSource.from_json(str(source))) for source in batch["source"]]
        return {
            "shard": batch["shard"],
            "name": batch["name"],
            "content": numpy.asarray([content for content, _, _ in shards], dtype=object),
            "records": numpy.asarray([records for _, records, _ in shards], dtype=numpy.int64),
            "words": numpy.asarray([words for _, _, words in shards], dtype=numpy.int64),
        }

    def tag(self, source: ShardSource) -> Tuple[bytes, int, int]:
        """The shard file's bytes, its record count and its words."""
        task = self.task
        documents = list(read_shard(Path(task.input), source, task.text_field, task.id_field, self.nlp.vocab))
        docs = self.nlp.pipe((document.doc_like for document in documents), batch_size=task.batch_size)
        payloads: List[Any] = []
        words = 0
        for doc, document in zip(docs, documents, strict=True):
            source_of_doc = source_fields(document)
            payloads.append(
                json_line(doc, source_of_doc) if task.format == "jsonl" else with_source(doc, source_of_doc)
            )
            words += len(doc)
            if len(payloads) % task.batch_size == 0:
                self.counter.report.remote(source.shard, len(payloads), words)
        self.counter.report.remote(source.shard, len(payloads), words)
        return shard_content(task.format, payloads), len(payloads), words


def shard_files_datasink(output: Path) -> Any:
    """A Ray Data Datasink writing each row's `content` to the file `name` under
    `output` (atomically) and gathering the records and words of each shard. Its
    write tasks import only atomic.py besides Ray."""
    from ray.data import Datasink
    from ray.data.block import BlockAccessor

    class ShardFiles(Datasink):
        def __init__(self) -> None:
            self.counts: ShardCounts = {}

        def get_name(self) -> str:
            return "ShardFiles"

        def write(self, blocks: Iterable[Any], ctx: Any) -> ShardCounts:
            written: ShardCounts = {}
            for block in blocks:
                rows: Iterable[Any] = BlockAccessor.for_block(block).iter_rows(public_row_format=True)
                for row in rows:
                    shard = int(row["shard"])
                    write_atomically(output / str(row["name"]), bytes(row["content"]))
                    written[shard] = (int(row["records"]), int(row["words"]))
            return written

        def on_write_complete(self, write_result: Any) -> None:
            for written in write_result.write_returns:
                self.counts.update(written)

    return ShardFiles()


@contextmanager
def ray_session(address: Optional[str], n_workers: Optional[int], verbose: bool) -> Iterator[ModuleType]:
    """`ray` joined to the cluster at `address` (e.g. "auto"), to the one this process
    already joined, or to a local one started for the block with `n_workers` CPUs (by
    default, this machine's). A connection made here is closed after the block."""
    ray = require_ray()
    connected = False
    if not ray.is_initialized():
        quiet: Dict[str, Any] = {
            "logging_level": logging.INFO if verbose else logging.ERROR,
            "log_to_driver": verbose,
        }
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=n_workers, include_dashboard=False, **quiet)
        connected = True
    try:
        yield ray
    finally:
        if connected:
            ray.shutdown()


@contextmanager
def run_settings(ray: ModuleType, verbose: bool) -> Iterator[None]:
    """Ray Data's progress bars and console logs off unless `verbose`, for the block (an
    error reaches the caller as an exception: Ray Data's log of it would repeat it);
    the caller's DataContext values and the `ray.data` logger level are restored after it."""
    context = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": verbose, "raise_original_map_exception": True}
    saved = {name: getattr(context, name) for name in settings}
    logger = logging.getLogger("ray.data")
    level = logger.level
    try:
        for name, value in settings.items():
            setattr(context, name, value)
        if not verbose:
            logger.setLevel(logging.CRITICAL)
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        logger.setLevel(level)


class ProgressPoller:
    """Moves `progress` to the counter actor's totals every POLL_SECONDS, in a thread."""

    def __init__(self, ray: ModuleType, counter: Any, progress: Progress) -> None:
        self._ray = ray
        self._counter = counter
        self._progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="annotate-progress", daemon=True)

    def __enter__(self) -> "ProgressPoller":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        request = None  # the counter's answer to wait for; it may take a while to start
        while not self._stop.wait(POLL_SECONDS):
            request = request or self._counter.totals.remote()
            ready, _ = self._ray.wait([request], timeout=0)
            if not ready:
                continue
            try:
                documents, words = self._ray.get(request)
            except self._ray.exceptions.RayError:
                return  # the bar stops moving; the final counts come from the written shards
            request = None
            self._progress.set(documents, words)


def cluster_cpus(ray: ModuleType) -> int:
    """The CPUs of the cluster `ray` is joined to (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def annotate_ray(
    task: ShardTask,
    sources: Sequence[ShardSource],
    output: Path,
    plan: ShardPlan,
    progress: Progress,
    n_workers: Optional[int] = None,
    address: Optional[str] = None,
    max_retries: Optional[int] = None,
    verbose: bool = False,
) -> ShardCounts:
    """Tag and write the shards of `sources` on Ray; return the records and words
    written per shard. `n_workers` actors of one CPU each (default: one per CPU of the
    cluster, at most one per shard)."""
    if not sources:
        return {}
    with ray_session(address, n_workers, verbose) as ray, run_settings(ray, verbose):
        counter = ray.remote(num_cpus=0)(ProgressCounter).remote()
        actors = min(n_workers or cluster_cpus(ray), len(sources))
        retries = (
            {} if max_retries is None else {"max_restarts": max_retries, "max_task_retries": max_retries}
        )
        rows = [
            {"shard": source.shard, "name": plan.name(source.shard), "source": source.to_json()}
            for source in sources
        ]
        sink = shard_files_datasink(output.resolve())
        tagged = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardAnnotator,
            fn_constructor_kwargs={"task": task, "counter": counter},
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
            **retries,
        )
        try:
            with ProgressPoller(ray, counter, progress):
                tagged.write_datasink(sink, ray_remote_args={"num_cpus": 0}, concurrency=WRITERS)
        except ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, BadInputError):
                raise error.cause from None  # the worker's message, without Ray's traceback
            raise
        finally:
            ray.kill(counter)
    missing = sorted({source.shard for source in sources} - set(sink.counts))
    if missing:
        raise RuntimeError(f"Ray wrote no file for shard(s) {', '.join(plan.name(k) for k in missing)}")
    return sink.counts
