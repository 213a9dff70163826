"""The input: JSONL or plain-text files read line by line, with line numbers.

A file whose name ends in `.jsonl`, `.ndjson` or `.json` holds one JSON object per
line, with the text in a string field (and optionally an id field); a blank line
there is not a document. Any other file is plain text, one document per line (an
empty line is an empty document). A directory is every non-hidden file under it,
in sorted order of their relative paths. Lines are numbered from 1 in their file;
`position` counts lines from 0 across all files, and decides a line's shard.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple, Union

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Document:
    """One document of the input."""

    position: int  # line position across all input files, from 0
    file: str  # the file's path relative to the input (its name for a single file)
    line: int  # line number in that file, from 1
    text: str
    id: Any = None  # the id field's value; None without one
    has_id: bool = False


@dataclass(frozen=True)
class BadLine:
    """A line that is not a document: bad JSON, no text field, a non-string text."""

    position: int
    file: str
    line: int
    reason: str

    def describe(self, root: Path) -> str:
        where = root / self.file if root.is_dir() else root
        return f"{where}:{self.line}: {self.reason}"


class BadInputError(ValueError):
    """The input cannot be read as asked (missing, or malformed lines with --on-bad-line fail)."""


def input_files(path: Path) -> List[Tuple[str, Path]]:
    """(relative name, path) of each input file: the file itself, or every non-hidden
    file under a directory, sorted by relative path."""
    if path.is_file():
        return [(path.name, path)]
    if not path.is_dir():
        raise BadInputError(f"the input {path} does not exist")
    files = []
    for child in path.rglob("*"):
        relative = child.relative_to(path)
        if child.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append((relative.as_posix(), child))
    if not files:
        raise BadInputError(f"the input directory {path} holds no files")
    return sorted(files)


def is_jsonl(name: str) -> bool:
    return name.lower().endswith(JSONL_SUFFIXES)


def read_input(
    path: Path, text_field: str = "text", id_field: Optional[str] = "id"
) -> Iterator[Union[Document, BadLine]]:
    """Every document and malformed line of the input, in order."""
    position = 0
    for name, file in input_files(path):
        jsonl = is_jsonl(name)
        with file.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                item = _parse(raw, jsonl, position, name, number, text_field, id_field)
                if item is not None:
                    yield item
                position += 1


def _parse(
    raw: bytes,
    jsonl: bool,
    position: int,
    name: str,
    number: int,
    text_field: str,
    id_field: Optional[str],
) -> Union[Document, BadLine, None]:
    """The document on one line, a BadLine, or None for a blank JSONL line."""
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
