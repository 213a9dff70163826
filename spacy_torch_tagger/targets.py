"""What each target reads from gold data and writes to a Doc.

tag   -> token.tag_   (fine-grained tag, e.g. UD XPOS)
pos   -> token.pos_   (UD UPOS, one of spaCy's universal POS tags)
morph -> token.morph  (UD FEATS string; "_" is the empty analysis)
"""

from typing import Dict, Iterable, List, Optional, Sequence

import numpy
from spacy.attrs import MORPH, POS, TAG
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab

TARGET_ATTRS: Dict[str, int] = {"tag": TAG, "pos": POS, "morph": MORPH}
ALLOWED_TARGETS = tuple(TARGET_ATTRS)
EMPTY_MORPH = "_"


def validate_targets(targets: Sequence[str]) -> List[str]:
    """The targets as a list, or a ValueError naming the allowed ones."""
    if isinstance(targets, str) or not targets:
        raise ValueError(
            f"torch_tagger 'targets' must be a non-empty list drawn from {list(ALLOWED_TARGETS)}, "
            f'got {targets!r}. Example: targets = ["tag", "pos", "morph"].'
        )
    unknown = [t for t in targets if t not in TARGET_ATTRS]
    if unknown:
        raise ValueError(
            f"Unknown torch_tagger target(s) {unknown}: allowed targets are {list(ALLOWED_TARGETS)}."
        )
    if len(set(targets)) != len(targets):
        raise ValueError(f"torch_tagger 'targets' lists a target twice: {list(targets)}.")
    return list(targets)


def reference_labels(doc: Doc, target: str) -> Iterable[str]:
    """The labels a gold doc carries for the target; unannotated tokens give none."""
    if target == "tag":
        return (token.tag_ for token in doc if token.tag_)
    if target == "pos":
        return (token.pos_ for token in doc if token.pos_)
    return (str(token.morph) or EMPTY_MORPH for token in doc if token.has_morph())


def gold_labels(example: Example, target: str) -> List[Optional[str]]:
    """Aligned gold labels of the predicted tokens; None where missing or misaligned."""
    values = example.get_aligned(target.upper(), as_string=True)
    return [value if value else None for value in values]


def check_labels(target: str, labels: Iterable[str]) -> None:
    """Raise if a label cannot be written to a token for this target."""
    if target == "pos":
        bad = sorted({label for label in labels if label not in UPOS_IDS or not label})
        if bad:
            raise ValueError(
                f"torch_tagger target 'pos' got labels {bad[:10]} that are not universal POS tags "
                f"(allowed: {sorted(k for k in UPOS_IDS if k)}). Put language-specific tags under "
                "the 'tag' target instead."
            )


def label_values(vocab: Vocab, target: str, labels: Sequence[str]) -> numpy.ndarray:
    """The uint64 value `Doc.from_array` stores for each label of the target."""
    if target == "tag":
        values = [vocab.strings.add(label) for label in labels]
    elif target == "pos":
        values = [UPOS_IDS[label] for label in labels]
    else:
        values = [vocab.morphology.add(label) for label in labels]
    return numpy.asarray(values, dtype="uint64")
