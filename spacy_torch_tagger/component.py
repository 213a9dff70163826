"""The `torch_tagger` pipeline component."""

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union, cast

import numpy
import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, SequenceCategoricalCrossentropy, set_dropout_rate
from thinc.types import Floats2d, Ints1d, Ints2d

from .serialize import WeightsError
from .tagger_model import build_network, label_counts, set_label_counts
from .targets import (
    TARGET_ATTRS,
    check_labels,
    gold_labels,
    label_values,
    reference_labels,
    validate_targets,
)

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_torch_tagger.TorchTagger.v1"
mixed_precision = false

[model.features]
@architectures = "spacy_torch_tagger.TokenFeatures.v1"
vocab_attr = "NORM"
vocab_rows = 20000
vocab_min_count = 2
attrs = ["PREFIX", "SUFFIX", "SHAPE"]
rows = [2000, 5000, 1000]
n_hashes = 2
max_chars = 16
char_rows = 1000

[model.network]
@architectures = "spacy_torch_tagger.LSTMNetwork.v1"
embed_width = 64
char_embed_width = 32
char_width = 64
char_kernel_size = 3
hidden_width = 256
depth = 1
bidirectional = true
word_dropout = 0.25
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]

# Per-doc predictions: target -> one array of label indices per doc.
Predictions = Dict[str, List[Ints1d]]


@Language.factory(
    "torch_tagger",
    assigns=["token.tag", "token.pos", "token.morph"],
    default_config={
        "model": DEFAULT_MODEL,
        "targets": ["tag"],
        "overwrite": False,
        "neg_prefix": "!",
        "label_smoothing": 0.0,
        "scorer": {"@scorers": "spacy_torch_tagger.scorer.v1"},
    },
    default_score_weights={"tag_acc": 1.0, "pos_acc": None, "morph_acc": None, "morph_per_feat": None},
)
def make_torch_tagger(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    targets: List[str],
    overwrite: bool,
    neg_prefix: str,
    label_smoothing: float,
    scorer: Optional[Callable],
) -> "TorchTagger":
    """Create a torch_tagger: one PyTorch network predicting tag, pos and/or morph."""
    return TorchTagger(
        nlp.vocab,
        model,
        name,
        targets=targets,
        overwrite=overwrite,
        neg_prefix=neg_prefix,
        label_smoothing=label_smoothing,
        scorer=scorer,
    )


class TorchTagger(TrainablePipe):
    """Predicts token.tag_, token.pos_ and/or token.morph with one torch network.

    The model's output for a doc is one (n_tokens, nO) array: the logits of
    each target side by side, in the order of `targets`.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "torch_tagger",
        *,
        targets: Sequence[str] = ("tag",),
        overwrite: bool = False,
        neg_prefix: str = "!",
        label_smoothing: float = 0.0,
        scorer: Optional[Callable] = None,
    ) -> None:
        targets = validate_targets(targets)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"torch_tagger label_smoothing must be in [0, 1), got {label_smoothing}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": {target: [] for target in targets},
            "label_smoothing": label_smoothing,
            "neg_prefix": neg_prefix,
            "overwrite": overwrite,
            "targets": targets,
        }
        self._values: Dict[str, numpy.ndarray] = {}
        self._values_key: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()

    @property
    def targets(self) -> List[str]:
        return list(self.cfg["targets"])

    @property
    def labels(self) -> Tuple[str, ...]:
        """The labels of the output columns, target after target (see `label_data`
        for the labels of each target)."""
        return tuple(label for target in self.targets for label in self.cfg["labels"][target])

    @property
    def label_data(self) -> Dict[str, List[str]]:
        """The labels of each target; `initialize(labels=...)` takes this back."""
        return {target: list(self.cfg["labels"][target]) for target in self.targets}

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
        """Collect labels (from `labels` or the examples) and build a fresh network.

        labels: label_data from `spacy init labels`: a dict target -> labels, or a
            list of labels when the component has one target.
        """
        validate_get_examples(get_examples, "TorchTagger.initialize")
        util.check_lexeme_norms(self.vocab, "torch_tagger")
        given: Dict[str, Set[str]]
        if labels is not None:
            given = {target: set(values) for target, values in self._labels_from_argument(labels).items()}
        else:
            given = {target: set() for target in self.targets}
            for example in get_examples():
                for target in self.targets:
                    given[target].update(reference_labels(example.reference, target))
        for target in self.targets:
            new = sorted(set(given[target]) - set(self.cfg["labels"][target]))
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
        set_label_counts(self.model, self._label_counts())
        # All training docs, not a sample: the model builds its word table from them.
        self.model.initialize(X=docs)

    def _labels_from_argument(
        self, labels: Union[Dict[str, Sequence[str]], Sequence[str]]
    ) -> Dict[str, Sequence[str]]:
        if isinstance(labels, dict):
            missing = [target for target in self.targets if target not in labels]
            if missing:
                raise ValueError(
                    f"torch_tagger '{self.name}' got labels for {sorted(labels)} but none for {missing}. "
                    "Regenerate the labels file with `spacy init labels` for this config."
                )
            return {target: list(labels[target]) for target in self.targets}
        if len(self.targets) > 1 or isinstance(labels, str):
            raise ValueError(
                f"torch_tagger '{self.name}' predicts {self.targets}: give labels as a dict "
                "target -> list of labels (as written by `spacy init labels`)."
            )
        return {self.targets[0]: list(labels)}

    def _label_counts(self) -> Dict[str, int]:
        return {target: len(self.cfg["labels"][target]) for target in self.targets}

    def _split_columns(self, scores: Floats2d) -> Iterator[Tuple[str, Floats2d]]:
        start = 0
        for target in self.targets:
            end = start + len(self.cfg["labels"][target])
            yield target, scores[:, start:end]
            start = end

    def predict(self, docs: Iterable[Doc]) -> Predictions:
        """The index of the best label per token, per target, per doc."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return {target: [self.model.ops.alloc1i(0) for _ in docs] for target in self.targets}
        scores = self.model.predict(docs)
        predictions: Predictions = {target: [] for target in self.targets}
        for doc_scores in scores:
            for target, columns in self._split_columns(doc_scores):
                predictions[target].append(columns.argmax(axis=1))
        return predictions

    def set_annotations(self, docs: Iterable[Doc], predictions: Predictions) -> None:
        """Write predicted labels to the docs; existing values are kept unless `overwrite`."""
        if isinstance(docs, Doc):
            docs = [docs]
        attrs: List[Union[int, str]] = [TARGET_ATTRS[target] for target in self.targets]
        values = self._label_values()
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

    def _label_values(self) -> Dict[str, numpy.ndarray]:
        """Per target, the value `Doc.from_array` stores for each label (cached)."""
        key = tuple((target, tuple(self.cfg["labels"][target])) for target in self.targets)
        if self._values_key != key:
            self._values = {
                target: label_values(self.vocab, target, self.cfg["labels"][target])
                for target in self.targets
            }
            self._values_key = key
        return self._values

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
        ops = self.model.ops
        total = 0.0
        d_by_target = []
        for target in self.targets:
            names = self.cfg["labels"][target]
            truths = [gold_labels(eg, target) for eg in examples]
            self._check_gold(target, truths)
            loss_func = SequenceCategoricalCrossentropy(
                names=names,
                normalize=False,
                neg_prefix=self.cfg["neg_prefix"],
                label_smoothing=self.cfg["label_smoothing"],
            )
            probs = [ops.softmax(dict(self._split_columns(s))[target], axis=-1) for s in scores]
            d_target, loss = loss_func(probs, cast(List[Sequence[str]], truths))
            total += float(loss)
            d_by_target.append(d_target)
        if ops.xp.isnan(total):
            raise ValueError(f"torch_tagger '{self.name}' got a NaN loss: lower the learning rate.")
        d_scores = [ops.xp.hstack(parts) for parts in zip(*d_by_target, strict=True)]
        return total, d_scores

    def _check_gold(self, target: str, truths: List[List[Optional[str]]]) -> None:
        known = set(self.cfg["labels"][target])
        prefix = self.cfg["neg_prefix"]
        for doc_truths in truths:
            for value in doc_truths:
                if value is None or value in known:
                    continue
                label = value[len(prefix) :] if prefix and value.startswith(prefix) else value
                if label not in known:
                    raise ValueError(
                        f"torch_tagger '{self.name}': gold {target} label {value!r} is not among the "
                        f"component's {len(known)} {target} labels. Initialize on data that contains "
                        "it, or regenerate the labels file with `spacy init labels`."
                    )

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        serializers = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            "vocab": lambda: self.vocab.to_bytes(exclude=exclude),
            "model": lambda: self.model.to_bytes(),
        }
        return util.to_bytes(serializers, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "TorchTagger":
        deserializers = {
            "cfg": lambda b: self._load_cfg(srsly.json_loads(b)),
            "vocab": lambda b: self.vocab.from_bytes(b, exclude=exclude),
            "model": lambda b: self._load_model(b, "bytes"),
        }
        util.from_bytes(bytes_data, deserializers, exclude)
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        serializers = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            "vocab": lambda p: self.vocab.to_disk(p, exclude=exclude),
            "model": lambda p: self.model.to_disk(p),
        }
        util.to_disk(path, serializers, exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "TorchTagger":
        deserializers: Dict[str, Callable[[Path], Any]] = {
            "cfg": lambda p: self._load_cfg(_read_json(p)),
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "model": lambda p: self._load_model(_read_bytes(p), str(p)),
        }
        util.from_disk(path, deserializers, exclude)
        return self

    def _load_cfg(self, cfg: Any) -> None:
        """Take saved labels and settings; the targets must match this component's."""
        if not isinstance(cfg, dict) or not isinstance(cfg.get("labels"), dict):
            raise ValueError(f"torch_tagger '{self.name}': the saved cfg is damaged (no labels mapping).")
        saved_targets = cfg.get("targets")
        if saved_targets != self.targets:
            raise ValueError(
                f"torch_tagger '{self.name}' was saved with targets {saved_targets} but the config "
                f"asks for {self.targets}. Use the config.cfg saved with the model."
            )
        self.cfg.update(cfg)
        for target in self.targets:
            check_labels(target, self.cfg["labels"][target])
            for label in self.cfg["labels"][target]:
                self.vocab.strings.add(label)

    def _load_model(self, data: bytes, source: str) -> None:
        """Rebuild the network at the saved label counts, then load its weights."""
        counts = self._label_counts()
        built = all(counts.values())
        if built:
            set_label_counts(self.model, counts)
            build_network(self.model)
        try:
            self.model.from_bytes(data)
        except WeightsError:
            raise
        except Exception as error:
            raise ValueError(
                f"torch_tagger '{self.name}' could not read its model from {source}: "
                f"{type(error).__name__}: {error}. The file is not a model saved by "
                "spacy-torch-tagger; restore it from the original pipeline or re-train."
            ) from None
        if built and label_counts(self.model) != counts:
            raise ValueError(
                f"torch_tagger '{self.name}': the saved model has label counts "
                f"{label_counts(self.model)} but its cfg lists {counts}; the model directory is "
                "inconsistent. Re-save the pipeline."
            )


def _to_numpy(array: Any) -> Any:
    return array.get() if hasattr(array, "get") else array


def _read_json(path: Path) -> Any:
    try:
        return srsly.read_json(path)
    except ValueError as error:
        raise ValueError(
            f"torch_tagger could not parse {path} as JSON ({error}); the model directory is damaged."
        ) from None


def _read_bytes(path: Path) -> bytes:
    with Path(path).open("rb") as file_:
        return file_.read()
