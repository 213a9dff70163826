"""What the commands do before their work: find the pipeline as spacy.load does, pick
the device (--gpu-id) and load the pipeline with the command line's config overrides."""

from pathlib import Path
from typing import Any, Dict

from spacy.cli._util import setup_gpu, show_validation_error
from spacy.language import Language
from spacy.util import is_package

from ..annotate.fingerprint import check_pipeline_directory
from ..annotate.input_errors import BadInputError
from .failure import fail

WHAT_TO_GIVE = (
    "Give the directory spacy train wrote (e.g. training/model-best) or the name of an "
    "installed pipeline package."
)
CODE_HINT = (
    "If the pipeline has custom components or functions, pass the file that registers them with --code."
)
GPU_HINT = (
    "--gpu-id N runs on CUDA GPU N through CuPy (pip install cupy-cuda12x, or spacy[cuda12x]); "
    "--gpu-id -1, the default, runs on the CPU."
)


def check_pipeline(name: str) -> None:
    """Exit with a message unless spacy.load can find `name`: blank:LANG, an installed
    pipeline package, or a directory with a meta.json and a config.cfg."""
    if name.startswith("blank:") or is_package(name):
        return
    path = Path(name)
    if not path.exists():
        fail(f"Can't find the pipeline {name}: no such directory or installed package.", WHAT_TO_GIVE)
    try:
        check_pipeline_directory(path)
    except BadInputError as error:
        fail(str(error))


def use_device(gpu_id: int) -> None:
    """spaCy's setup_gpu; a message and exit status 1 where the GPU cannot be used."""
    try:
        setup_gpu(gpu_id)
    except (ValueError, RuntimeError) as error:
        fail(f"Can't use GPU {gpu_id}: {error}", GPU_HINT)


def load_pipeline(name: str, overrides: Dict[str, Any]) -> Language:
    """spacy.load(name) with the config overrides (dotted keys); a message and exit
    status 1 where the config or the pipeline does not load."""
    import spacy

    try:
        with show_validation_error(hint_fill=False):
            return spacy.load(name, config=overrides)
    except ValueError as error:
        fail(f"Can't load the pipeline {name}: {error}", CODE_HINT)
