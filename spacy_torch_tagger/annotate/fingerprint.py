"""Content fingerprints for the resume key: the pipeline (every file of its directory)
and the --code file. A pipeline retrained or edited at the same path gets another
fingerprint; one copied elsewhere keeps it.

PIPELINE is resolved as `spacy.load` resolves a name: `blank:LANG`, else an installed
package (its package directory, found as spaCy finds it, holds the data directory),
else a directory.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from spacy.util import get_package_path, is_package, load_config
from thinc.api import Config

from .input_errors import BadInputError

SKIPPED_DIRECTORIES = ("__pycache__",)  # written by Python when a package is imported
PIPELINE_FILES = ("meta.json", "config.cfg")  # what spacy.load reads from a directory
WHAT_TO_GIVE = "give the directory nlp.to_disk or spacy train wrote (e.g. training/model-best)"


@dataclass(frozen=True)
class PipelineSource:
    """What `spacy.load` will read for PIPELINE, and its fingerprint."""

    reference: str  # what every process passes to spacy.load: a package name or an absolute path
    sha256: str  # of the name for blank:LANG
    directory: Optional[Path] = None  # the files fingerprinted (None for blank:LANG)

    def config(self, overrides: Optional[Dict[str, Any]] = None) -> Optional[Config]:
        """The pipeline's config.cfg (a package keeps it in its data directory) with the
        config overrides (dotted keys), read without loading the pipeline; None for blank:LANG."""
        if self.directory is None:
            return None
        found = sorted(self.directory.glob("config.cfg")) or sorted(self.directory.glob("*/config.cfg"))
        return load_config(found[0], overrides=overrides or {}) if found else None


def locate_pipeline(pipeline: str) -> PipelineSource:
    """PIPELINE's source and fingerprint, or BadInputError when it names nothing spacy.load can load."""
    if pipeline.startswith("blank:"):
        return PipelineSource(pipeline, hashlib.sha256(pipeline.encode("utf-8")).hexdigest())
    if is_package(pipeline):
        package = get_package_path(pipeline)
        return PipelineSource(pipeline, directory_sha256(package), package)
    path = Path(pipeline)
    if path.is_dir():
        check_pipeline_directory(path)
        return PipelineSource(str(path.resolve()), directory_sha256(path), path)
    raise BadInputError(
        f"the pipeline {pipeline!r} is neither a directory nor an installed pipeline package; give "
        "the directory spacy train wrote (e.g. training/model-best) or pip-install the package"
    )


def check_pipeline_directory(path: Path) -> None:
    """BadInputError when `path` lacks the meta.json and config.cfg spacy.load reads,
    naming the pipelines inside it (spacy train's output holds model-best and model-last)."""
    if not path.is_dir():
        raise BadInputError(f"{path} is a file, not a pipeline directory; {WHAT_TO_GIVE}")
    missing = [name for name in PIPELINE_FILES if not (path / name).is_file()]
    if not missing:
        return
    inside = sorted(
        child.name for child in path.iterdir() if all((child / name).is_file() for name in PIPELINE_FILES)
    )
    hint = (
        f"it holds the pipeline(s) {', '.join(inside)}: give {path / inside[0]}" if inside else WHAT_TO_GIVE
    )
    raise BadInputError(f"{path} is not a pipeline directory (no {' or '.join(missing)}); {hint}")


def directory_sha256(directory: Path) -> str:
    """SHA-256 over every file under `directory` (relative path and bytes, sorted by
    path), leaving out __pycache__ directories."""
    files = []
    for folder, subfolders, names in os.walk(directory):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_DIRECTORIES]
        files += [Path(folder, name) for name in names]
    digest = hashlib.sha256()
    for relative, path in sorted((path.relative_to(directory).as_posix(), path) for path in files):
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        _add_file(digest, path)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    _add_file(digest, path)
    return digest.hexdigest()


def _add_file(digest: "hashlib._Hash", path: Path) -> None:
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
