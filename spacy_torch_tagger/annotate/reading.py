"""The input: JSONL or plain-text files, one document per line, and `.spacy` DocBins,
parsed the same way by the first pass over the input (scan.py) and by whoever tags a
shard.

A file whose name ends in `.jsonl`, `.ndjson` or `.json` holds one JSON object per
line, with the text in a string field (and optionally an id field); a blank line
there is not a document. A file whose name ends in `.spacy` is a DocBin, each of its
Docs a document (docbin_input.py). Any other file is plain text, one document per
line (an empty line is an empty document). A directory is every file under it whose
path has no part starting with "." or "_" (hidden files, and the `_manifest.json`,
`_layout.json` and `_SUCCESS` of an output directory, which can so be annotated
again), in sorted order of their relative paths. Lines, and a DocBin's Docs, are
numbered from 1 in their file; `position` counts them from 0 across all files, and
decides a document's shard.

A shard's lines are described by a `ShardSource` (the byte offset and first line
number of each file's part, the documents expected, the SHA-256 of the bytes), so
a worker reads its shard alone with `read_shard`, and a shard whose bytes are no
longer those the first pass read fails instead of writing other documents.
"""

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple, Union

from spacy.tokens import Doc
from spacy.vocab import Vocab

from .docbin_input import doc_line_bytes, docs_to_tag, is_docbin, json_id, read_docbin
from .input_errors import BadInputError, InputChangedError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
SKIPPED_PREFIXES = (".", "_")  # hidden files; an output directory's _manifest.json, _layout.json, _SUCCESS


@dataclass(frozen=True)
class Document:
    """One document of the input."""

    position: int  # line (or DocBin Doc) position across all input files, from 0
    file: str  # the file's path relative to the input (its name for a single file)
    line: int  # line number in that file, from 1 (a DocBin's Doc number)
    text: str
    id: Any = None  # the id field's value; None without one
    has_id: bool = False
    # a DocBin's Doc, on the vocab read_shard was given; None for a line
    doc: Optional[Doc] = field(default=None, compare=False, repr=False)

    @property
    def doc_like(self) -> Union[str, Doc]:
        """What nlp.pipe takes: a line's text, or a DocBin's Doc (its tokens and
        annotations kept)."""
        return self.text if self.doc is None else self.doc


@dataclass(frozen=True)
class BadLine:
    """A line that is not a document: not UTF-8, bad JSON, no text field, a non-string text."""

    position: int
    file: str
    line: int
    reason: str

    def describe(self, root: Path) -> str:
        return f"{file_path(root, self.file)}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class FileSpan:
    """Consecutive lines of one input file."""

    file: str  # relative name, as in input_files
    offset: int  # byte offset of the first line (a DocBin: index of the first Doc)
    first_line: int  # its line number, from 1 (a DocBin: the Doc's number)
    lines: int  # lines (a DocBin: Docs)


@dataclass(frozen=True)
class ShardSource:
    """Where a shard's input lines are: enough for any process to read them alone."""

    shard: int
    first_position: int
    spans: Tuple[FileSpan, ...]
    documents: int  # documents the first pass found in these lines
    sha256: str  # of the lines' bytes, in order

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> "ShardSource":
        value = json.loads(data)
        spans = tuple(FileSpan(**span) for span in value.pop("spans"))
        return cls(spans=spans, **value)


def input_files(path: Path) -> List[Tuple[str, Path]]:
    """(relative name, path) of each input file: the file itself, or every file under
    a directory with no part of its relative path starting with "." or "_", sorted by
    relative path."""
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise BadInputError(f"the input {path} does not exist")
    files = []
    for child in path.rglob("*"):
        relative = child.relative_to(path)
        if child.is_file() and not any(part.startswith(SKIPPED_PREFIXES) for part in relative.parts):
            files.append((relative.as_posix(), child))
    if not files:
        raise BadInputError(f"the input directory {path} holds no files")
    return sorted(files)


def file_path(root: Path, name: str) -> Path:
    """The path of input file `name` (as input_files names it) under the input `root`."""
    return root / name if root.is_dir() else root


def is_jsonl(name: str) -> bool:
    return name.lower().endswith(JSONL_SUFFIXES)


def parse_line(
    raw: bytes,
    jsonl: bool,
    position: int,
    name: str,
    number: int,
    text_field: str,
    id_field: Optional[str],
) -> Union[Document, BadLine, None]:
    """The document on one line (its bytes, newline included), a BadLine, or None for
    a blank JSONL line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return BadLine(position, name, number, f"not UTF-8 ({error.reason} at byte {error.start})")
    line = line[:-1] if line.endswith("\n") else line
    line = line[:-1] if line.endswith("\r") else line
    if not jsonl:
        return Document(position, name, number, line)
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except ValueError as error:
        return BadLine(position, name, number, f"not valid JSON ({error})")
    if not isinstance(value, dict):
        return BadLine(position, name, number, f"a JSON {type(value).__name__}, not an object")
    if text_field not in value:
        return BadLine(position, name, number, f"no {text_field!r} field")
    text = value[text_field]
    if not isinstance(text, str):
        return BadLine(
            position, name, number, f"the {text_field!r} field is a {type(text).__name__}, not a string"
        )
    has_id = id_field is not None and id_field in value
    return Document(position, name, number, text, value[id_field] if has_id else None, has_id)


def read_shard(
    root: Path,
    source: ShardSource,
    text_field: str = "text",
    id_field: Optional[str] = "id",
    vocab: Optional[Vocab] = None,
) -> Iterator[Document]:
    """The documents of a shard's lines, as the first pass parsed them (malformed lines
    left out: the first pass reported them). Raises InputChangedError when the lines
    are not those the first pass read (the input changed, or another node holds other
    files at the input's path). A DocBin's Docs are built on `vocab`: the pipeline's,
    for nlp.pipe to take them as they are."""
    digest = hashlib.sha256()
    position = source.first_position
    documents = 0
    for span in source.spans:
        path = file_path(root, span.file)
        if is_docbin(span.file):
            file_sha256, docbin_documents = _docbin_span(path, span, position, id_field, source, vocab)
            for document in docbin_documents:
                digest.update(doc_line_bytes(file_sha256, document.line - 1))
                documents += 1
                yield document
            position += span.lines
            continue
        jsonl = is_jsonl(span.file)
        with path.open("rb") as file:
            file.seek(span.offset)
            lines = 0
            for lines, raw in enumerate(itertools.islice(file, span.lines), start=1):
                digest.update(raw)
                item = parse_line(
                    raw, jsonl, position, span.file, span.first_line + lines - 1, text_field, id_field
                )
                position += 1
                if isinstance(item, Document):
                    documents += 1
                    yield item
        if lines != span.lines:
            raise _changed(path, source)
    if digest.hexdigest() != source.sha256 or documents != source.documents:
        raise _changed(file_path(root, source.spans[0].file), source)


def _docbin_span(
    path: Path,
    span: FileSpan,
    first_position: int,
    id_field: Optional[str],
    source: ShardSource,
    vocab: Optional[Vocab],
) -> Tuple[str, Iterator[Document]]:
    """The SHA-256 of a DocBin file and the documents of its Docs in `span`, built on
    `vocab` (a vocab of their own without one)."""
    data = path.read_bytes()
    docbin = read_docbin(path, data)
    if len(docbin) < span.offset + span.lines:
        raise _changed(path, source)
    docs = docs_to_tag(docbin, span.offset, span.offset + span.lines, path, vocab or Vocab())
    documents = (
        docbin_document(doc, first_position + k, span.file, path, span.offset + k + 1, id_field)
        for k, doc in enumerate(docs)
    )
    return hashlib.sha256(data).hexdigest(), documents


def docbin_document(
    doc: Doc, position: int, name: str, path: Path, number: int, id_field: Optional[str]
) -> Document:
    """The document of Doc `number` (from 1) of the DocBin `name` (at `path`), its id
    from `doc.user_data`."""
    has_id = id_field is not None and id_field in doc.user_data
    identifier = json_id(doc.user_data[id_field], f"{path}, Doc {number}") if id_field and has_id else None
    return Document(position, name, number, doc.text, identifier, has_id, doc)


def _first(source: ShardSource) -> str:
    """Where the shard starts: a line number, or a DocBin's Doc number."""
    first = source.spans[0]
    return f"{'Doc' if is_docbin(first.file) else 'line'} {first.first_line}"


def _changed(path: Path, source: ShardSource) -> InputChangedError:
    return InputChangedError(
        f"the input lines of shard {source.shard} (from {path}, {_first(source)}) "
        "are not those read when the run started: the input changed during the run, or (on a "
        "cluster) a node holds other files at the input's path. Make the input the same everywhere "
        "and rerun the same command"
    )
