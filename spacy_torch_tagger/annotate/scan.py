"""The first pass over the input, in the process that runs the command: one read of
every line that counts the lines, parses each (reading.parse_line, as the workers
will), hashes every file's bytes (SHA-256, the resume key) and describes each
shard's lines (reading.ShardSource) so that any process can read a shard alone.
A `.spacy` DocBin is read whole, its Docs counted and their ids checked, not
decoded. Its memory does not grow with the input, except for the malformed lines it
lists and the largest DocBin.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Tuple

from .docbin_input import check_ids, doc_line_bytes, is_docbin, read_docbin
from .reading import BadLine, Document, FileSpan, ShardSource, input_files, is_jsonl, parse_line


@dataclass(frozen=True)
class InputFile:
    """One input file as the first pass read it."""

    file: str  # relative name
    bytes: int
    sha256: str


@dataclass
class InputScan:
    """What the first pass found."""

    n_lines: int = 0
    blank_lines: int = 0
    files: List[InputFile] = field(default_factory=list)
    shards: List[ShardSource] = field(default_factory=list)
    bad_lines: List[BadLine] = field(default_factory=list)

    @property
    def n_documents(self) -> int:
        return sum(shard.documents for shard in self.shards)


class _ShardBuilder:
    """Cuts the stream of lines into shards of `shard_size` lines, recording where each
    shard's part of every file starts, its documents and the SHA-256 of its bytes."""

    def __init__(self, shard_size: int) -> None:
        self.shard_size = shard_size
        self.shards: List[ShardSource] = []
        self._first_position = 0
        self._lines = 0
        self._documents = 0
        self._digest = hashlib.sha256()
        self._spans: List[FileSpan] = []
        self._span: Optional[List[Any]] = None  # the open span: [file, offset, first line, lines]

    def add_line(self, name: str, offset: int, number: int, raw: bytes, is_document: bool) -> None:
        """Line `number` of file `name`, at byte `offset`."""
        if self._lines == self.shard_size:
            self._close_shard()
        if self._span is None or self._span[0] is not name:
            self._close_span()
            self._span = [name, offset, number, 0]
        self._span[3] += 1
        self._lines += 1
        self._documents += is_document
        self._digest.update(raw)

    def finish(self) -> List[ShardSource]:
        """Every shard; an empty input makes one empty shard."""
        if self._lines or not self.shards:
            self._close_shard()
        return self.shards

    def _close_span(self) -> None:
        if self._span is not None:
            self._spans.append(FileSpan(*self._span))
            self._span = None

    def _close_shard(self) -> None:
        self._close_span()
        shard = ShardSource(
            len(self.shards),
            self._first_position,
            tuple(self._spans),
            self._documents,
            self._digest.hexdigest(),
        )
        self.shards.append(shard)
        self._first_position += self._lines
        self._lines, self._documents, self._digest, self._spans = 0, 0, hashlib.sha256(), []


def scan_input(
    root: Path, shard_size: int, text_field: str = "text", id_field: Optional[str] = "id"
) -> InputScan:
    """Read every line of the input once (see the module docstring)."""
    scan = InputScan()
    shards = _ShardBuilder(shard_size)
    position = 0
    for name, path in input_files(root):
        if is_docbin(name):
            docbin_file, n_docs = _scan_docbin(name, path, shards, id_field)
            scan.files.append(docbin_file)
            position += n_docs
            continue
        jsonl = is_jsonl(name)
        file_digest = hashlib.sha256()
        offset = 0
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                item = parse_line(raw, jsonl, position, name, number, text_field, id_field)
                shards.add_line(name, offset, number, raw, isinstance(item, Document))
                if isinstance(item, BadLine):
                    scan.bad_lines.append(item)
                elif item is None:
                    scan.blank_lines += 1
                file_digest.update(raw)
                offset += len(raw)
                position += 1
        scan.files.append(InputFile(name, offset, file_digest.hexdigest()))
    scan.n_lines = position
    scan.shards = shards.finish()
    return scan


def _scan_docbin(
    name: str, path: Path, shards: _ShardBuilder, id_field: Optional[str]
) -> Tuple[InputFile, int]:
    """Add a DocBin's Docs to the shards, each a document; the file and its Doc count.
    BadInputError if the file is not a DocBin or holds an id JSON cannot hold."""
    data = path.read_bytes()
    file_sha256 = hashlib.sha256(data).hexdigest()
    docbin = read_docbin(path, data)
    check_ids(docbin, path, id_field)
    n_docs = len(docbin)
    for index in range(n_docs):
        shards.add_line(name, index, index + 1, doc_line_bytes(file_sha256, index), True)
    return InputFile(name, len(data), file_sha256), n_docs
