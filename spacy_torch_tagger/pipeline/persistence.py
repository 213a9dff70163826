"""Saving and loading a torch_tagger component: its cfg (labels, settings),
the vocab, and the thinc model (known words, label counts, network weights).

Loading checks every part and says which one is wrong; errors other than
damaged or foreign data (bugs) are not translated.
"""

import copy
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Protocol, Union

import srsly
from spacy import util
from spacy.vocab import Vocab
from thinc.api import Model

from ..errors import ModelFileError
from ..layers.tagger_model import label_counts, load_model
from .targets import check_labels, validate_targets
from .temperatures import check_temperatures


class SavedComponent(Protocol):
    """What saving and loading need of a torch_tagger component."""

    name: str
    vocab: Vocab
    model: Model
    cfg: Dict[str, Any]
    chooses_targets: bool

    @property
    def targets(self) -> List[str]: ...

    def label_counts(self) -> Dict[str, int]: ...


def component_to_bytes(tagger: SavedComponent, exclude: Iterable[str]) -> bytes:
    serializers = {
        "cfg": lambda: srsly.json_dumps(tagger.cfg),
        "vocab": lambda: tagger.vocab.to_bytes(exclude=exclude),
        "model": lambda: tagger.model.to_bytes(),
    }
    return util.to_bytes(serializers, exclude)


def component_from_bytes(tagger: SavedComponent, data: bytes, exclude: Iterable[str]) -> None:
    deserializers = {
        "cfg": lambda b: load_cfg(tagger, _parse_json(b, "its cfg")),
        "vocab": lambda b: tagger.vocab.from_bytes(b, exclude=exclude),
        "model": lambda b: load_model_bytes(tagger, b, "bytes"),
    }
    _restored_on_failure(tagger, lambda: util.from_bytes(data, deserializers, exclude))


def component_to_disk(tagger: SavedComponent, path: Union[str, Path], exclude: Iterable[str]) -> None:
    serializers = {
        "cfg": lambda p: srsly.write_json(p, tagger.cfg),
        "vocab": lambda p: tagger.vocab.to_disk(p, exclude=exclude),
        "model": lambda p: tagger.model.to_disk(p),
    }
    util.to_disk(path, serializers, exclude)


def component_from_disk(tagger: SavedComponent, path: Union[str, Path], exclude: Iterable[str]) -> None:
    deserializers: Dict[str, Callable[[Path], Any]] = {
        "cfg": lambda p: load_cfg(tagger, _parse_json(Path(p).read_bytes(), str(p))),
        "vocab": lambda p: tagger.vocab.from_disk(p, exclude=exclude),
        "model": lambda p: load_model_bytes(tagger, Path(p).read_bytes(), str(p)),
    }
    _restored_on_failure(tagger, lambda: util.from_disk(path, deserializers, exclude))


def _restored_on_failure(tagger: SavedComponent, load: Callable[[], Any]) -> None:
    """Run a load, then check that the cfg's labels and the model agree (a load that
    excludes one part must not pair the other with a stranger). If anything fails, put
    the component's cfg and model back as they were, so that a component that worked
    keeps working; the vocab, shared with the pipeline, is not put back. The snapshot
    serializes the model: cheap for a fresh one, as large as the weights for a built one."""
    cfg = copy.deepcopy(tagger.cfg)
    model_bytes = tagger.model.to_bytes()
    try:
        load()
        _check_labels_match_model(tagger)
    except Exception as error:
        try:
            tagger.cfg = cfg
            load_model(tagger.model, model_bytes)
        except Exception as restore_error:
            warnings.warn(
                f"torch_tagger '{tagger.name}' could not be put back as it was after a failed load "
                f"({restore_error}); create the pipeline again before using it.",
                stacklevel=3,
            )
        raise error


def _check_labels_match_model(tagger: SavedComponent) -> None:
    saved, listed = label_counts(tagger.model), tagger.label_counts()
    if saved and saved != listed:
        raise ValueError(
            f"torch_tagger '{tagger.name}': the model has label counts {saved} but the cfg lists "
            f"{listed}: the model directory is inconsistent, or a cfg and a model of different "
            "pipelines were loaded (one part excluded). Load both from one pipeline, or re-save it."
        )


def load_cfg(tagger: SavedComponent, cfg: Any) -> None:
    """Take saved labels and settings; the targets must match the component's, or be
    any valid ones when the component chooses its own (`targets = "auto"`)."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("labels"), dict):
        raise ValueError(f"torch_tagger '{tagger.name}': the saved cfg is damaged (no labels mapping).")
    targets = _saved_targets(tagger, cfg.get("targets"))
    labels = cfg["labels"]
    for target in targets:
        if not isinstance(labels.get(target), list) or not all(
            isinstance(label, str) for label in labels[target]
        ):
            raise ValueError(f"torch_tagger '{tagger.name}': the saved cfg is damaged ({target} labels).")
        check_labels(target, labels[target])
    # Absent in pipelines saved before calibration existed: uncalibrated.
    temperatures = cfg.get("temperatures", {target: 1.0 for target in targets})
    cfg = {
        **cfg,
        "labels": {target: labels[target] for target in targets},
        "temperatures": _saved_temperatures(tagger, temperatures, targets),
    }
    tagger.cfg.update(cfg)
    for target in targets:
        for label in labels[target]:
            tagger.vocab.strings.add(label)


def _saved_targets(tagger: SavedComponent, saved: Any) -> List[str]:
    if not tagger.chooses_targets:
        if saved != tagger.targets:
            raise ValueError(
                f"torch_tagger '{tagger.name}' was saved with targets {saved} but the config "
                f"asks for {tagger.targets}. Use the config.cfg saved with the model."
            )
        return tagger.targets
    if saved == []:  # saved before initialize chose them
        return []
    try:
        return validate_targets(saved)
    except ValueError as error:
        raise ValueError(f"torch_tagger '{tagger.name}': the saved cfg is damaged ({error})") from error


def _saved_temperatures(tagger: SavedComponent, temperatures: Any, targets: List[str]) -> Dict[str, float]:
    try:
        return check_temperatures(f"torch_tagger '{tagger.name}'", temperatures, targets)
    except ValueError as error:
        raise ValueError(
            f"{error} The saved cfg is damaged: re-run calibration or re-save the pipeline."
        ) from error


def load_model_bytes(tagger: SavedComponent, data: bytes, source: str) -> None:
    """Load the thinc model; its label counts must agree with the cfg's labels."""
    try:
        load_model(tagger.model, data)
    except ModelFileError as error:
        raise ValueError(
            f"torch_tagger '{tagger.name}' could not load its model from {source}: {error}. "
            "Restore the model directory from the original pipeline or re-train."
        ) from error


def _parse_json(data: bytes, source: str) -> Any:
    try:
        return srsly.json_loads(data)
    except ValueError as error:
        raise ValueError(
            f"torch_tagger could not parse {source} as JSON ({error}); the model directory is damaged."
        ) from error
