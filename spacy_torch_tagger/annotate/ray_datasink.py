"""The Ray engine with Ray Data's writer: no record comes back to this process.

Each pending shard is one row (its documents); a pool of actors, each loading the
pipeline once, tags a shard per call and turns it into the shard file's bytes; a
Ray Data `Datasink` writes every shard to the output directory from the cluster,
atomically (a hidden temporary file renamed), and returns its record and word counts,
which this process checks against the input. The bytes are those the local engine
writes. The output directory must be at the same path on every node (a shared
filesystem); a shard is the unit of work, so use at least as many shards as workers
(`--shard-size`). A dead worker is restarted and its shard retried, as in ray_engine.
"""

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy

from .progress import Progress
from .ray_engine import (
    PipelineActor,
    actor_arguments,
    actor_pool_arguments,
    cluster_cpus,
    crash_once,
    ray_session,
    require_ray,
)
from .reading import Document
from .records import source_fields
from .shards import ShardPlan, shard_content, write_atomically

ShardCounts = Dict[int, Tuple[int, int]]  # shard -> (records, words)


class ShardAnnotator(PipelineActor):
    """Tags whole shards into their files' bytes."""

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, numpy.ndarray]:
        crash_once(self.crash_marker)
        contents: List[bytes] = []
        records: List[int] = []
        words: List[int] = []
        for documents in batch["documents"]:
            texts_and_sources = json.loads(documents)
            texts = [text for text, _source in texts_and_sources]
            sources = [source for _text, source in texts_and_sources]
            tagged = list(self.records(texts, sources))
            contents.append(shard_content(self.format, [record for record, _n_words in tagged]))
            records.append(len(tagged))
            words.append(sum(n_words for _record, n_words in tagged))
        return {
            "shard": batch["shard"],
            "content": numpy.asarray(contents, dtype=object),
            "records": numpy.asarray(records, dtype=numpy.int64),
            "words": numpy.asarray(words, dtype=numpy.int64),
        }


def shard_files_datasink(output: Path, plan: ShardPlan) -> Any:
    """A Ray Data Datasink writing each row's `content` to the file of its `shard`."""
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
                    write_atomically(output / plan.name(shard), bytes(row["content"]))
                    written[shard] = (int(row["records"]), int(row["words"]))
            return written

        def on_write_complete(self, write_result: Any) -> None:
            for written in write_result.write_returns:
                self.counts.update(written)

    return ShardFiles()


def annotate_ray_datasink(
    pipeline: str,
    documents: Iterable[Document],
    output: Path,
    plan: ShardPlan,
    pending: Sequence[int],
    progress: Progress,
    n_workers: Optional[int] = None,
    batch_size: int = 256,
    address: Optional[str] = None,
    max_retries: Optional[int] = None,
) -> Dict[int, int]:
    """Tag `documents` (those of the `pending` shards) on Ray and write their shards
    from the cluster; return the records written per shard. Ray Data's own progress
    bar shows the shards as they finish; `progress` gets the totals at the end."""
    require_ray()
    by_shard: Dict[int, List[Tuple[str, Dict[str, Any]]]] = {shard: [] for shard in pending}
    for document in documents:
        by_shard[plan.shard_of(document.position)].append((document.text, source_fields(document)))
    rows = [
        {"shard": shard, "documents": json.dumps(by_shard[shard], ensure_ascii=False)}
        for shard in sorted(by_shard)
    ]
    if not rows:
        return {}
    with ray_session(address, n_workers) as ray:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress.enabled
        sink = shard_files_datasink(output.resolve(), plan)
        tagged = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardAnnotator,
            fn_constructor_kwargs=actor_arguments(pipeline, plan.format, batch_size),
            batch_size=1,
            batch_format="numpy",
            **actor_pool_arguments(ray, min(n_workers or cluster_cpus(ray), len(rows)), max_retries),
        )
        tagged.write_datasink(sink)
    missing = sorted(set(pending) - set(sink.counts))
    if missing:
        raise RuntimeError(f"Ray wrote no file for shard(s) {', '.join(plan.name(k) for k in missing)}")
    for records, words in sink.counts.values():
        progress.update(records, words)
    return {shard: records for shard, (records, _words) in sink.counts.items()}
