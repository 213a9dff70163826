"""The `torch_tagger` pipeline component (created by factory.py)."""

import json
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union, cast

import numpy
from spacy import util
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d, Ints1d, Ints2d

from ..extras import extra_requirements
from ..layers.network_output import split_columns
from ..layers.tagger_model import checkpoint_of, reads_checkpoint, set_label_counts
from ..network.value_checks import check_bool, check_float, check_int, check_str
from .filled_targets import filled_columns, filled_targets, targets_of_labels
from .labels import LabelValues, labels_from_argument, labels_from_examples
from .loss import tagger_loss
from .persistence import component_from_bytes, component_from_disk, component_to_bytes, component_to_disk
from .probabilities import (
    TargetProbabilities,
    batch_probabilities,
    check_extensions,
    register_extensions,
    write_probabilities,
)
from .scorer import fit_score_weights
from .targets import AUTO_TARGETS, TARGETS, check_labels, validate_targets
from .temperatures import check_temperatures
from .torch_threads import apply_torch_threads, register_fork_handler

# Between a target and a label in `TorchTagger.labels` when there are several targets.
TARGET_LABEL_SEPARATOR = ":"


class Predictions(Dict[str, List[Ints1d]]):
    """Per-doc predictions: target -> one array of label indices per doc.

    `probabilities` holds one {target: TargetProbabilities} per doc when the
    component is asked for probabilities or top-k labels, else None.
    """

    probabilities: Optional[List[Dict[str, TargetProbabilities]]] = None


class TorchTagger(TrainablePipe):
    """Predicts token.tag_, token.pos_ and/or token.morph with one torch network.

    The model's output for a doc is one (n_tokens, nO) array: the logits of
    each target side by side, in the order of `targets`. With `targets = "auto"`
    the targets are chosen at `initialize` from what the training data annotates
    (filled_targets.py); until then there are none.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "torch_tagger",
        *,
        targets: Union[str, Sequence[str]] = ("tag",),
        overwrite: bool = False,
        neg_prefix: str = "!",
        label_smoothing: float = 0.0,
        torch_threads: Optional[int] = 1,
        probabilities: bool = False,
        top_k: int = 0,
        scorer: Optional[Callable] = None,
    ) -> None:
        # Not in cfg: the config says "auto" again when the pipeline is loaded.
        self.chooses_targets = targets == AUTO_TARGETS
        targets = [] if self.chooses_targets else validate_targets(targets)
        check_bool("torch_tagger", "probabilities", probabilities)
        check_int("torch_tagger", "top_k", top_k, 0)
        check_float("torch_tagger", "label_smoothing", label_smoothing, 0.0, 1.0)
        check_bool("torch_tagger", "overwrite", overwrite)
        check_str("torch_tagger", "neg_prefix", neg_prefix)
        if torch_threads is not None:
            check_int("torch_tagger", "torch_threads (or null to keep torch's setting)", torch_threads, 1)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.torch_threads = torch_threads
        # Not in cfg (not saved): a value passed when loading applies.
        self.probabilities = probabilities
        self.top_k = top_k
        self.cfg: Dict[str, Any] = {
            "labels": {target: [] for target in targets},
            "label_smoothing": float(label_smoothing),
            "neg_prefix": neg_prefix,
            "overwrite": overwrite,
            "targets": targets,
            # Calibration (calibration/): probabilities are softmax(logits / T) per target.
            "temperatures": {target: 1.0 for target in targets},
        }
        self._label_values = LabelValues()
        register_fork_handler()
        register_extensions()
        if probabilities or top_k:
            check_extensions()

    @property
    def targets(self) -> List[str]:
        return list(self.cfg["targets"])

    @property
    def labels(self) -> Tuple[str, ...]:
        """The labels of the output columns, target after target.

        With one target these are its labels, as spaCy's tagger's are. With several,
        each carries its target as a prefix (`tag:NN`, `pos:NOUN`,
        `morph:Number=Sing`), as spaCy's morphologizer writes `POS=NOUN`: spaCy
        copies `labels` into nlp.meta["labels"] and `spacy package`'s README, where
        a bare `NOUN` could be either target's. The bare labels of each target are
        in `label_data`.
        """
        if len(self.targets) == 1:
            return tuple(self.cfg["labels"][self.targets[0]])
        return tuple(
            f"{target}{TARGET_LABEL_SEPARATOR}{label}"
            for target in self.targets
            for label in self.cfg["labels"][target]
        )

    @property
    def label_data(self) -> Dict[str, List[str]]:
        """The labels of each target; `initialize(labels=...)` takes this back."""
        return {target: list(self.cfg["labels"][target]) for target in self.targets}

    def label_counts(self) -> Dict[str, int]:
        return {target: len(self.cfg["labels"][target]) for target in self.targets}

    def add_label(self, label: str, target: Optional[str] = None) -> int:
        """Add a label to a target (the only target when there is one).
        Returns 1 if it was added, 0 if it was already present."""
        if not isinstance(label, str):
            raise ValueError(f"torch_tagger labels must be strings, got {label!r} ({type(label).__name__}).")
        target = self._target_for_label(target)
        if label in self.cfg["labels"][target]:
            return 0
        check_labels(target, [label])
        self._allow_extra_label()
        self.cfg["labels"][target].append(label)
        self.vocab.strings.add(label)
        return 1

    def _target_for_label(self, target: Optional[str]) -> str:
        if not self.targets:
            raise ValueError(
                f"torch_tagger '{self.name}' has targets = \"{AUTO_TARGETS}\" and chooses them at "
                "initialize, from the training data: add labels after initialize, pass them to "
                'initialize as a dict target -> labels, or name the targets (targets = ["pos"]).'
            )
        if target is None:
            if len(self.targets) > 1:
                raise ValueError(
                    f"torch_tagger '{self.name}' predicts {self.targets}: name the target, "
                    "e.g. add_label('NOUN', target='pos')."
                )
            return self.targets[0]
        if target not in self.targets:
            raise ValueError(
                f"torch_tagger '{self.name}' has no target {target!r}; its targets are {self.targets}."
            )
        return target

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Dict[str, Sequence[str]], Sequence[str]]] = None,
    ) -> None:
        """Choose the targets when they are "auto", collect labels (from `labels` or
        the examples) and build a fresh network, uncalibrated.

        labels: label_data from `spacy init labels`: a dict target -> labels, or a
            list of labels when the component has one target.
        """
        validate_get_examples(get_examples, "TorchTagger.initialize")
        util.check_lexeme_norms(self.vocab, "torch_tagger")
        apply_torch_threads(self.torch_threads)
        columns = None
        if labels is None and (self.chooses_targets or "tag" in self.targets):
            columns = filled_columns(get_examples)
        if self.chooses_targets:
            if labels is not None:
                self._set_targets(targets_of_labels(self.name, labels))
            elif columns is not None:
                self._set_targets(filled_targets(self.name, columns))
            util.logger.info("torch_tagger '%s' (targets = \"auto\") predicts %s", self.name, self.targets)
        # A fresh network: a calibration of the previous one does not apply.
        self.cfg["temperatures"] = {target: 1.0 for target in self.targets}
        if labels is not None:
            given = labels_from_argument(self.name, self.targets, labels)
        else:
            given = labels_from_examples(get_examples, self.targets)
            if "tag" in self.targets and columns is not None and columns.tags_copy_pos:
                others = [target for target in self.targets if target != "tag"] or ["pos"]
                warnings.warn(
                    f"torch_tagger '{self.name}': (nearly) every gold token's tag repeats its pos "
                    "(or, for a merged multiword token, its words' UPOS joined by _), so the 'tag' head "
                    "would learn a copy of UPOS. The treebank likely has no XPOS column (`spacy convert` "
                    'copies UPOS into token.tag_ where XPOS is "_"). Predict '
                    f"targets = {json.dumps(others)} instead (e.g. --components.{self.name}.targets "
                    f"'{json.dumps(others)}'), or targets = \"{AUTO_TARGETS}\".",
                    stacklevel=2,
                )
        for target in self.targets:
            new = sorted(given[target] - set(self.cfg["labels"][target]))
            check_labels(target, new)
            self.cfg["labels"][target].extend(new)
            for label in new:
                self.vocab.strings.add(label)
        empty = [target for target in self.targets if not self.cfg["labels"][target]]
        if empty:
            raise ValueError(
                f"torch_tagger '{self.name}' found no labels for target(s) {empty}: the training "
                "examples carry no such annotation. Train on data annotated for every target, "
                "pass labels via [initialize.components.<name>.labels], or drop the target."
            )
        docs = [example.x for example in get_examples()]
        if not docs:
            raise ValueError(f"torch_tagger '{self.name}' was initialized with no examples.")
        set_label_counts(self.model, self.label_counts())
        # All training docs, not a sample: the model builds its known-word table from them.
        self.model.initialize(X=docs)
        if nlp is not None:
            # `spacy train` reads the weights back from nlp.config after initialize.
            fit_score_weights(nlp)
        if nlp is not None and reads_checkpoint(self.model):
            # `spacy package` copies these into the package, which then installs the extra's libraries.
            requirements = nlp.meta.setdefault("requirements", [])
            requirements.extend(r for r in extra_requirements("transformers") if r not in requirements)
            # The encoder's name and license travel in the meta (and `spacy package`'s README).
            sources = nlp.meta.setdefault("sources", [])
            source = checkpoint_of(self.model).source()
            if source not in sources:
                sources.append(source)

    def _set_targets(self, targets: List[str]) -> None:
        """Predict these targets from now on; labels start afresh when they differ
        from the current ones."""
        if targets != self.targets:
            self.cfg["targets"] = targets
            self.cfg["labels"] = {target: [] for target in targets}

    @property
    def temperatures(self) -> Dict[str, float]:
        """The calibration temperature of each target (1.0: uncalibrated)."""
        return dict(self.cfg["temperatures"])

    def set_temperatures(self, temperatures: Dict[str, float]) -> None:
        """Set the calibration temperature of every target (saved with the pipeline)."""
        self.cfg["temperatures"] = check_temperatures(
            f"torch_tagger '{self.name}'", temperatures, self.targets
        )

    def predict(self, docs: Iterable[Doc]) -> Predictions:
        """The index of the best label per token, per target, per doc (and the
        probabilities when `probabilities` or `top_k` asks for them)."""
        docs = list(docs)
        wants_probabilities = self.probabilities or self.top_k > 0
        if not any(len(doc) for doc in docs):
            empty = Predictions(
                {target: [self.model.ops.alloc1i(0) for _ in docs] for target in self.targets}
            )
            if wants_probabilities:
                empty.probabilities = [{} for _ in docs]
            return empty
        apply_torch_threads(self.torch_threads)
        scores = self.model.predict(docs)
        predictions = Predictions({target: [] for target in self.targets})
        for doc_scores in scores:
            for target, columns in split_columns(doc_scores, self.cfg["labels"]):
                predictions[target].append(columns.argmax(axis=1))
        if wants_probabilities:
            predictions.probabilities = batch_probabilities(
                [_to_numpy(doc_scores) for doc_scores in scores],
                self.cfg["labels"],
                self.cfg["temperatures"],
                self.top_k,
            )
        return predictions

    def set_annotations(self, docs: Iterable[Doc], predictions: Predictions) -> None:
        """Write predicted labels to the docs; existing values are kept unless `overwrite`."""
        if isinstance(docs, Doc):
            docs = [docs]
        attrs: List[Union[int, str]] = [TARGETS[target].attr for target in self.targets]
        values = self._label_values(self.vocab, self.label_data)
        for i, doc in enumerate(docs):
            if not len(doc):
                continue
            new = numpy.stack(
                [values[target][_to_numpy(predictions[target][i])] for target in self.targets], axis=1
            )
            if not self.cfg["overwrite"]:
                existing = doc.to_array(attrs).reshape(new.shape)
                new = existing + (existing == 0) * new
            doc.from_array(attrs, cast(Ints2d, new))
            probabilities = getattr(predictions, "probabilities", None)
            if probabilities is not None:
                write_probabilities(
                    doc, probabilities[i], self.cfg["labels"], best=self.probabilities, top_k=self.top_k > 0
                )

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One gradient step on a batch of examples; adds the loss to `losses[name]`."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "TorchTagger.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        apply_torch_threads(self.torch_threads)
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        for doc_scores in scores:
            if self.model.ops.xp.isnan(self.model.ops.xp.sum(doc_scores)):
                raise ValueError(
                    f"torch_tagger '{self.name}' produced NaN scores: lower the learning rate "
                    "or enable gradient clipping in [training.optimizer]."
                )
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """Softmax cross-entropy per target, summed; the gradient is w.r.t. the logits.

        Tokens without a gold value for a target are masked out of that target.
        """
        examples = list(examples)
        validate_examples(examples, "TorchTagger.get_loss")
        return tagger_loss(
            self.model.ops,
            examples,
            scores,
            self.label_data,
            neg_prefix=self.cfg["neg_prefix"],
            label_smoothing=self.cfg["label_smoothing"],
            name=self.name,
        )

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return component_to_bytes(self, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "TorchTagger":
        component_from_bytes(self, bytes_data, exclude)
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        component_to_disk(self, path, exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "TorchTagger":
        component_from_disk(self, path, exclude)
        return self


def _to_numpy(array: Any) -> Any:
    return array.get() if hasattr(array, "get") else array
