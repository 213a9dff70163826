"""The Ray engine: Ray Data over the pending documents, tagged by a pool of actors
that each load the pipeline once; the records stream back to this process in input
order (`preserve_order`) and go into the same shards as the local engine's.

A worker that dies (killed, out of memory, a crashed node) is restarted and its
batch retried: by Ray Data's default for actor pools (`max_restarts=-1`,
`max_task_retries=-1`) without limit, or `max_retries` times when given (passed to
the pool as `max_restarts` / `max_task_retries`, which Ray 2.60 accepts with a
deprecation warning). Each record carries its input position, checked here: a record
missing, repeated or out of order fails the run instead of writing a wrong shard.
"""

import json
import logging
import os
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy

from .progress import Progress
from .reading import Document
from .records import json_line, source_fields, with_source
from .shards import ShardSink

# Test hook: when set to a path that does not exist yet, the first worker batch
# creates it and the worker process exits at once (os._exit), as a killed worker would.
CRASH_ONCE_ENV = "SPACY_TORCH_TAGGER_ANNOTATE_CRASH_ONCE"
INSTALL_HINT = "pip install spacy-torch-tagger[ray]"


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


class PipelineActor:
    """A Ray Data actor that loads the pipeline once; subclasses tag batches with `records`."""

    def __init__(
        self, pipeline: str, format: str, batch_size: int, crash_marker: Optional[str] = None
    ) -> None:
        import spacy

        self.nlp = spacy.load(pipeline)
        self.format = format
        self.batch_size = batch_size
        self.crash_marker = crash_marker

    def records(self, texts: Iterable[str], sources: Sequence[Dict[str, Any]]) -> Iterator[Tuple[Any, int]]:
        """Each document's record (a JSON line, or the Doc with its source fields) and word count."""
        for doc, source in zip(self.nlp.pipe(texts, batch_size=self.batch_size), sources, strict=True):
            record = json_line(doc, source) if self.format == "jsonl" else with_source(doc, source)
            yield record, len(doc)


def actor_arguments(pipeline: str, format: str, batch_size: int) -> Dict[str, Any]:
    """The `fn_constructor_kwargs` of a PipelineActor, with the test hook's marker from
    this process's environment (the workers' may not have it)."""
    return {
        "pipeline": pipeline,
        "format": format,
        "batch_size": batch_size,
        "crash_marker": os.environ.get(CRASH_ONCE_ENV),
    }


class Annotator(PipelineActor):
    """Tags batches of documents into records (a DocBin doc as bytes, to travel back)."""

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        crash_once(self.crash_marker)
        texts = [str(text) for text in batch["text"]]
        sources = [json.loads(source) for source in batch["source"]]
        payloads: List[Any] = []
        words: List[int] = []
        for record, n_words in self.records(texts, sources):
            payloads.append(record if self.format == "jsonl" else record.to_bytes())
            words.append(n_words)
        return {
            "position": batch["position"],
            "words": numpy.asarray(words, dtype=numpy.int64),
            "payload": numpy.asarray(payloads, dtype=object),
        }


def crash_once(marker: Optional[str]) -> None:
    """The test hook: exit this worker process at once if `marker` can be created."""
    if not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os._exit(1)


@contextmanager
def ray_session(address: Optional[str], n_workers: Optional[int]) -> Iterator[ModuleType]:
    """`ray` joined to the cluster at `address` (e.g. "auto"), to one this process already
    joined, or to a local one started for the block (`n_workers` CPUs) and shut down after it."""
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=n_workers, include_dashboard=False, logging_level=logging.WARNING)
            started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def cluster_cpus(ray: ModuleType) -> int:
    """The CPUs of the cluster `ray` is joined to (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def actor_pool_arguments(
    ray: ModuleType, n_workers: Optional[int], max_retries: Optional[int]
) -> Dict[str, Any]:
    """`map_batches` arguments for a pool of one-CPU actors: `n_workers` of them (default:
    one per CPU of the cluster), restarted and retried `max_retries` times (default: no limit)."""
    n_workers = n_workers or cluster_cpus(ray)
    retries = {} if max_retries is None else {"max_restarts": max_retries, "max_task_retries": max_retries}
    return {"compute": ray.data.ActorPoolStrategy(size=n_workers), "num_cpus": 1, **retries}


def annotate_ray(
    pipeline: str,
    documents: Iterable[Document],
    sink: ShardSink,
    progress: Progress,
    n_workers: Optional[int] = None,
    batch_size: int = 256,
    address: Optional[str] = None,
    max_retries: Optional[int] = None,
) -> None:
    """Tag `documents` (those of the pending shards, in order) on Ray into `sink`.

    Connects to the cluster at `address` (e.g. "auto"), uses one this process already
    joined, or starts a local one for the run (`n_workers` CPUs). `pipeline` must load
    with `spacy.load` on every node: a package name or a path present on each.
    `n_workers` actors (default: one per CPU of the cluster), one CPU each."""
    with ray_session(address, n_workers) as ray:
        _run(ray, pipeline, documents, sink, progress, n_workers, batch_size, max_retries)


def _run(
    ray: ModuleType,
    pipeline: str,
    documents: Iterable[Document],
    sink: ShardSink,
    progress: Progress,
    n_workers: Optional[int],
    batch_size: int,
    max_retries: Optional[int],
) -> None:
    items = [
        {"position": d.position, "source": json.dumps(source_fields(d), ensure_ascii=False), "text": d.text}
        for d in documents
    ]
    if not items:
        return
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    blocks = min(-(-len(items) // batch_size), 10_000)  # a block per batch
    dataset = ray.data.from_items(items, override_num_blocks=blocks)
    tagged = dataset.map_batches(
        Annotator,
        fn_constructor_kwargs=actor_arguments(pipeline, sink.plan.format, batch_size),
        batch_size=batch_size,
        batch_format="numpy",
        **actor_pool_arguments(ray, n_workers, max_retries),
    )
    vocab = None
    expected = iter([item["position"] for item in items])
    for batch in tagged.iter_batches(batch_size=None, batch_format="numpy"):
        for position, words, payload in zip(batch["position"], batch["words"], batch["payload"], strict=True):
            if int(position) != next(expected, None):
                raise RuntimeError(
                    f"Ray returned the record of input line position {int(position)} out of order"
                )
            if sink.plan.format == "docbin":
                from spacy.tokens import Doc
                from spacy.vocab import Vocab

                vocab = vocab or Vocab()
                payload = Doc(vocab).from_bytes(payload)
            sink.add(int(position), payload)
            progress.update(1, int(words))
    missing = next(expected, None)
    if missing is not None:
        raise RuntimeError(f"Ray returned no record for input line position {missing} and later ones")
