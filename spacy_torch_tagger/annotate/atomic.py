"""A file written whole or not at all: its bytes go to a hidden temporary file beside
it (`.NAME.tmp`), flushed to disk, then renamed to NAME. Imports nothing heavy, as
Ray's writer processes import it."""

import os
from pathlib import Path


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is renamed."""
    return path.with_name(f".{path.name}.tmp")


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through its temporary file; the temporary file is removed
    if this fails or is interrupted."""
    temporary = temporary_path(path)
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
