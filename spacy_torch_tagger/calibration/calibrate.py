"""Calibrating a torch_tagger in a pipeline: collect its logits and the gold
labels on held-out examples, fit one temperature per target, report the
expected calibration error (ECE) before and after.

Used by `python -m spacy_torch_tagger calibrate` and, during `spacy train`, by
the `[training.before_to_disk]` callback `spacy_torch_tagger.calibrate_before_to_disk.v1`.
"""

from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Corpus, Example
from spacy.util import registry

from ..layers.network_output import split_columns
from ..pipeline.targets import gold_labels
from ..pipeline.temperatures import softmax
from .temperature_scaling import expected_calibration_error, fit_temperature, negative_log_likelihood

FACTORY = "torch_tagger"
# nlp.meta key of the last calibration's report, per component (saved in meta.json).
META_KEY = "torch_tagger_calibration"


class CalibrationError(ValueError):
    """Calibration cannot run on this pipeline or data."""


@dataclass
class TargetCalibration:
    """What calibration measured for one target (before: with the temperature the
    pipeline had; after: with the fitted one)."""

    tokens: int
    accuracy: float
    temperature_before: float
    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float


@dataclass
class CalibrationReport:
    component: str
    targets: Dict[str, TargetCalibration] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def find_component(nlp: Language, name: Optional[str] = None) -> str:
    """The name of the torch_tagger to calibrate: `name`, or the pipeline's only one."""
    ours = [pipe for pipe in nlp.pipe_names if nlp.get_pipe_meta(pipe).factory == FACTORY]
    if name is not None:
        if name not in ours:
            raise CalibrationError(
                f"the pipeline has no torch_tagger named {name!r}; its torch_taggers: {ours}."
            )
        return name
    if len(ours) != 1:
        found = "no torch_tagger" if not ours else f"several torch_taggers {ours}: name one with --component"
        raise CalibrationError(f"the pipeline has {found} (pipes: {nlp.pipe_names}).")
    return ours[0]


def collect_logits(
    nlp: Language, name: str, examples: Iterable[Example], batch_size: int = 64
) -> Dict[str, Tuple[numpy.ndarray, numpy.ndarray]]:
    """target -> (logits (n, n_labels), gold label indices (n,)) over the tokens
    that have a gold label the component knows. The pipes before `name` run on
    the examples' predicted docs first, as they do in `nlp.pipe`."""
    tagger: Any = nlp.get_pipe(name)
    labels: Dict[str, List[str]] = tagger.label_data
    index = {target: {label: i for i, label in enumerate(names)} for target, names in labels.items()}
    logits: Dict[str, List[Any]] = {target: [] for target in labels}
    gold: Dict[str, List[int]] = {target: [] for target in labels}
    examples = list(examples)
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        docs = _run_pipes_before(nlp, name, [eg.predicted for eg in batch])
        for eg, doc_scores in zip(batch, tagger.model.predict(docs), strict=True):
            scores: Any = doc_scores.get() if hasattr(doc_scores, "get") else doc_scores
            for target, columns in split_columns(scores, labels):
                rows = [
                    (i, index[target][value])
                    for i, value in enumerate(gold_labels(eg, target))
                    if value in index[target]
                ]
                if rows:
                    logits[target].append(columns[[i for i, _ in rows]])
                    gold[target].extend(label for _, label in rows)
    missing = [target for target in labels if not gold[target]]
    if missing:
        raise CalibrationError(
            f"the data has no gold labels of torch_tagger '{name}' for target(s) {missing}: "
            "calibrate on held-out data annotated like the training data."
        )
    return {
        target: (numpy.concatenate(logits[target]), numpy.asarray(gold[target], dtype="int64"))
        for target in labels
    }


def calibrate(nlp: Language, examples: Iterable[Example], name: Optional[str] = None) -> CalibrationReport:
    """Fit the temperature of each target of a torch_tagger on `examples` and set
    it on the component (saved with the pipeline)."""
    name = find_component(nlp, name)
    tagger: Any = nlp.get_pipe(name)
    before = tagger.temperatures
    report = CalibrationReport(component=name)
    fitted = {}
    for target, (logits, gold) in collect_logits(nlp, name, examples).items():
        fitted[target] = fit_temperature(logits, gold)
        report.targets[target] = TargetCalibration(
            tokens=len(gold),
            accuracy=float(numpy.mean(logits.argmax(axis=1) == gold)),
            temperature_before=before[target],
            temperature=fitted[target],
            ece_before=expected_calibration_error(softmax(logits, before[target]), gold),
            ece_after=expected_calibration_error(softmax(logits, fitted[target]), gold),
            nll_before=negative_log_likelihood(logits, gold, before[target]),
            nll_after=negative_log_likelihood(logits, gold, fitted[target]),
        )
    tagger.set_temperatures(fitted)
    nlp.meta.setdefault(META_KEY, {})[name] = report.to_dict()["targets"]
    return report


@registry.misc("spacy_torch_tagger.calibrate_before_to_disk.v1")
def make_calibrate_before_to_disk(
    dev: Union[str, Path], component: Optional[str] = None
) -> Callable[[Language], Language]:
    """A `[training.before_to_disk]` callback: before each checkpoint is saved,
    fit the torch_tagger's temperatures on `dev` (e.g. `${paths.dev}`)."""
    if not Path(dev).exists():
        raise ValueError(f"spacy_torch_tagger.calibrate_before_to_disk.v1: dev data {dev} does not exist.")
    return partial(_calibrate_before_to_disk, str(dev), component)


def _calibrate_before_to_disk(dev: str, component: Optional[str], nlp: Language) -> Language:
    calibrate(nlp, Corpus(dev)(nlp), component)
    return nlp


def _run_pipes_before(nlp: Language, name: str, docs: List[Doc]) -> List[Doc]:
    for pipe_name, proc in nlp.pipeline:
        if pipe_name == name:
            break
        docs = list(proc.pipe(docs)) if hasattr(proc, "pipe") else [proc(doc) for doc in docs]
    return docs
