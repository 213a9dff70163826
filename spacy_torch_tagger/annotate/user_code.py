"""`--code PATH`: a Python file imported before the pipeline loads (spaCy's convention,
as in `spacy train --code`), so that the custom components and functions a pipeline
names are registered. It is imported in this process before `spacy.load`, reaches
nlp.pipe's worker processes by fork, and every Ray actor imports it before it loads
the pipeline; the path must therefore exist at the same place on every node."""

from pathlib import Path
from typing import Optional

from spacy.util import import_file

from .reading import BadInputError

MODULE_NAME = "annotate_code"


def resolve_code(path: Optional[Path]) -> Optional[Path]:
    """The absolute path of the --code file, or BadInputError when it is not a file."""
    if path is None:
        return None
    if not path.is_file():
        raise BadInputError(f"the --code file {path} does not exist; give the path of a Python file")
    return path.resolve()


def import_code(path: Optional[str]) -> None:
    """Import the --code file (by its absolute path), if there is one."""
    if path is not None:
        import_file(MODULE_NAME, path)
