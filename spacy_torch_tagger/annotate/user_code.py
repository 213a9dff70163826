"""`--code PATH`: a Python file imported before the pipeline loads (spaCy's convention,
as in `spacy train --code`), so that the custom components and functions a pipeline
names are registered. It is imported in this process before `spacy.load`; nlp.pipe's
worker processes get it by fork, or, started by spawn or forkserver (fresh interpreters
that unpickle the pipeline), import it by its module name when the pipeline needs it
(`importable_by_workers`); every Ray actor imports it before it loads the pipeline, so the
path must exist at the same place on every node."""

import importlib.util
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional

from .input_errors import BadInputError

MODULE_NAME = "annotate_code"

# The module a fresh worker interpreter finds under MODULE_NAME: it loads the --code
# file from its own place (so the file keeps its __file__) in its stead, and the classes
# pickled in this process resolve to the same definitions there.
LOADER = '''"""Written by spacy_torch_tagger annotate: loads the --code file {path!r}."""
from spacy_torch_tagger.annotate.user_code import load_module

load_module(__name__, {path!r})
'''


def resolve_code(path: Optional[Path]) -> Optional[Path]:
    """The absolute path of the --code file, or BadInputError when it is not a file."""
    if path is None:
        return None
    if not path.is_file():
        raise BadInputError(f"the --code file {path} does not exist; give the path of a Python file")
    return path.resolve()


def import_code(path: Optional[str]) -> None:
    """Import the --code file (by its absolute path) as MODULE_NAME, if there is one."""
    if path is not None:
        load_module(MODULE_NAME, path)


def load_module(name: str, path: str) -> ModuleType:
    """Execute the file at `path` as the module `name`, entered in sys.modules first (as
    an import does), so that pickle finds its classes by their module's name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadInputError(f"the --code file {path} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def importable_by_workers(path: Optional[str]) -> Iterator[None]:
    """While active, worker processes started by spawn or forkserver can import the
    --code module by its name: they copy this process's sys.path, where a temporary
    folder holds a module of that name that loads the file."""
    if path is None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="annotate_code_") as folder:
        (Path(folder) / f"{MODULE_NAME}.py").write_text(LOADER.format(path=path), encoding="utf8")
        sys.path.insert(0, folder)
        try:
            yield
        finally:
            sys.path.remove(folder)
