"""The output directory: shards by line range, written atomically, resumable.

Shard k holds the records of input lines [k * shard_size, (k + 1) * shard_size)
(positions counted across all input files), as `part-0000k.jsonl` or
`part-0000k.spacy`. A shard is written to a hidden temporary file (`.NAME.tmp`) and
renamed to its final name once complete, so a final name always holds a whole shard
(atomic.py); a rerun skips the shards whose final file exists, after checking that
the directory was written from the same input, pipeline and settings (layout.py).
`_manifest.json` and then `_SUCCESS` are written when every shard exists.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Set

from spacy.tokens import Doc, DocBin

from .atomic import temporary_path, write_atomically
from .layout import LAYOUT, LayoutMismatchError, check_layout, read_layout

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
SUFFIXES = {"jsonl": ".jsonl", "docbin": ".spacy"}
TEMPORARY_FILES = (".part-*.tmp", "._*.tmp")  # what the writers leave when killed (atomic.py)


@dataclass(frozen=True)
class ShardPlan:
    """How the input's lines are cut into shards."""

    n_lines: int
    shard_size: int
    format: str  # "jsonl" or "docbin"

    @property
    def n_shards(self) -> int:
        return max(1, -(-self.n_lines // self.shard_size))

    def shard_of(self, position: int) -> int:
        return position // self.shard_size

    def name(self, shard: int) -> str:
        return f"part-{shard:05d}{SUFFIXES[self.format]}"

    def lines(self, shard: int) -> range:
        return range(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n_lines))


def prepare_output(output: Path, layout: Dict[str, Any]) -> None:
    """Create the output directory, or check that it was written with this layout
    (LayoutMismatchError if not); remove `_SUCCESS`, the manifest and the temporary
    files of an interrupted run."""
    output.mkdir(parents=True, exist_ok=True)
    previous = read_layout(output)
    if previous is None and any(output.glob("part-*")):
        raise LayoutMismatchError(
            f"{output} holds shard files but no {LAYOUT}, so nothing says what they were made "
            f"from. Write to a new output directory, or delete {output} to start over"
        )
    if previous is None:
        write_atomically(output / LAYOUT, json.dumps(layout, indent=2, ensure_ascii=False).encode("utf-8"))
    else:
        check_layout(output, previous, layout)
    for stale in (output / SUCCESS, output / MANIFEST):
        stale.unlink(missing_ok=True)
    remove_temporary_files(output)


def remove_temporary_files(output: Path) -> None:
    """Remove what an interrupted write left in `output`."""
    for pattern in TEMPORARY_FILES:
        for path in output.glob(pattern):
            path.unlink(missing_ok=True)


def finished_shards(output: Path, plan: ShardPlan) -> Set[int]:
    """The shards whose final file exists."""
    return {k for k in range(plan.n_shards) if (output / plan.name(k)).exists()}


class ShardWriter(Protocol):
    count: int

    def add(self, payload: Any) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class JsonlShardWriter:
    """JSON lines streamed to `.NAME.tmp`, renamed to NAME on commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._temporary = temporary_path(path)
        self._file = self._temporary.open("w", encoding="utf-8")

    def add(self, payload: str) -> None:
        self._file.write(payload)
        self._file.write("\n")
        self.count += 1

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temporary, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


class DocBinShardWriter:
    """Docs gathered, written atomically as one DocBin (with user_data) on commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._docs: List[Doc] = []

    def add(self, payload: Doc) -> None:
        self._docs.append(payload)
        self.count += 1

    def commit(self) -> None:
        write_atomically(self.path, shard_content("docbin", self._docs))

    def abort(self) -> None:
        self._docs.clear()


WRITERS: Dict[str, Callable[[Path], ShardWriter]] = {"jsonl": JsonlShardWriter, "docbin": DocBinShardWriter}


class ShardSink:
    """Takes the records of the pending shards in input order and commits each shard
    as soon as a record of a later shard arrives (or at the end), empty shards too."""

    def __init__(self, output: Path, plan: ShardPlan, pending: Sequence[int]) -> None:
        self.output = output
        self.plan = plan
        self.counts: Dict[int, int] = {}
        self._pending: List[int] = sorted(pending)
        self._next = 0
        self._current: Optional[ShardWriter] = None
        self._current_shard = -1

    def add(self, position: int, payload: Any) -> None:
        shard = self.plan.shard_of(position)
        while shard != self._current_shard:
            self._advance(shard)
        assert self._current is not None
        self._current.add(payload)

    def abort(self) -> None:
        """Drop the shard being written (its temporary file), after an error or an interrupt."""
        if self._current is not None:
            self._current.abort()
            self._current = None

    def finish(self) -> None:
        """Commit the current shard and every pending shard after it (they are empty)."""
        while self._current is not None or self._next < len(self._pending):
            self._advance(None)

    def _advance(self, wanted: Optional[int]) -> None:
        if self._current is not None:
            self._current.commit()
            self.counts[self._current_shard] = self._current.count
            self._current = None
        if self._next >= len(self._pending):
            if wanted is not None:
                raise RuntimeError(f"a record of shard {wanted} arrived after its shard was written")
            self._current_shard = -1
            return
        shard = self._pending[self._next]
        if wanted is not None and shard > wanted:
            raise RuntimeError(f"a record of shard {wanted} arrived out of order or for a finished shard")
        self._next += 1
        self._current_shard = shard
        self._current = WRITERS[self.plan.format](self.output / self.plan.name(shard))


def shard_content(format: str, payloads: Sequence[Any]) -> bytes:
    """A whole shard's file content, as the writers above write it: JSON lines each
    ending in a newline, or a DocBin of the docs with their user_data."""
    if format == "jsonl":
        return "".join(f"{line}\n" for line in payloads).encode("utf-8")
    docs = DocBin(store_user_data=True)
    for doc in payloads:
        docs.add(doc)
    return docs.to_bytes()


def count_records(path: Path, format: str) -> int:
    """Records in a finished shard."""
    if format == "jsonl":
        with path.open("rb") as file:
            return sum(1 for _ in file)
    return len(DocBin().from_bytes(path.read_bytes()))


def write_manifest(output: Path, manifest: Dict[str, Any]) -> None:
    """Write `_manifest.json`, then the empty `_SUCCESS` marker."""
    write_atomically(output / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
    write_atomically(output / SUCCESS, b"")
