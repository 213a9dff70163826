"""The labels of each target: collected from examples or given, and the
values `Doc.from_array` writes for them."""

from typing import Callable, Dict, Iterable, List, Sequence, Set, Union

import numpy
from spacy.training import Example
from spacy.vocab import Vocab

from .targets import label_values, reference_labels

LabelData = Dict[str, List[str]]


def labels_from_examples(
    get_examples: Callable[[], Iterable[Example]], targets: Sequence[str]
) -> Dict[str, Set[str]]:
    """Every label the gold docs carry, per target."""
    found: Dict[str, Set[str]] = {target: set() for target in targets}
    for example in get_examples():
        for target in targets:
            found[target].update(reference_labels(example.reference, target))
    return found


def labels_from_argument(
    name: str, targets: Sequence[str], labels: Union[Dict[str, Sequence[str]], Sequence[str]]
) -> Dict[str, Set[str]]:
    """Labels given to `initialize` (from `spacy init labels`): a dict target ->
    labels, or a list when there is one target."""
    if isinstance(labels, dict):
        missing = [target for target in targets if target not in labels]
        if missing:
            raise ValueError(
                f"torch_tagger '{name}' got labels for {sorted(labels)} but none for {missing}. "
                "Regenerate the labels file with `spacy init labels` for this config."
            )
        return {target: set(labels[target]) for target in targets}
    if len(targets) > 1 or isinstance(labels, str):
        raise ValueError(
            f"torch_tagger '{name}' predicts {list(targets)}: give labels as a dict "
            "target -> list of labels (as written by `spacy init labels`)."
        )
    return {targets[0]: set(labels)}


class LabelValues:
    """Per target, the value `Doc.from_array` stores for each label, recomputed
    only when the labels change."""

    def __init__(self) -> None:
        self._key: tuple = ()
        self._values: Dict[str, numpy.ndarray] = {}

    def __call__(self, vocab: Vocab, labels: LabelData) -> Dict[str, numpy.ndarray]:
        key = tuple((target, tuple(names)) for target, names in labels.items())
        if key != self._key:
            self._values = {target: label_values(vocab, target, names) for target, names in labels.items()}
            self._key = key
        return self._values
