"""What each target reads from gold data, writes to a Doc and is scored by.

tag   -> token.tag_   (fine-grained tag, e.g. UD XPOS)
pos   -> token.pos_   (UD UPOS, one of spaCy's universal POS tags)
morph -> token.morph  (UD FEATS string; "_" is the empty analysis)

Adding a target means adding one `Target` to TARGETS.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import MORPH, POS, TAG
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.scorer import Scorer
from spacy.tokens import Doc, Token
from spacy.training import Example
from spacy.vocab import Vocab

EMPTY_MORPH = "_"

# The `targets` setting for targets chosen from the training data (filled_targets.py).
AUTO_TARGETS = "auto"


@dataclass(frozen=True)
class Target:
    """name: the config name, also the column of `Example.get_aligned` (upper-cased).
    attr: the attribute `Doc.from_array` writes.
    token_label: a gold token's label, or "" where the token has none.
    label_value: the value `Doc.from_array` stores for a label.
    invalid_labels: the labels that cannot be written, with the reason.
    score: spaCy's scorer for this target's keys.
    score_keys: the keys `score` returns, this target's accuracy first.
    """

    name: str
    attr: int
    token_label: Callable[[Token], str]
    label_value: Callable[[Vocab, str], int]
    invalid_labels: Callable[[Iterable[str]], Optional[str]]
    score: Callable[..., Dict[str, Any]]
    score_keys: Tuple[str, ...]

    @property
    def accuracy_key(self) -> str:
        return self.score_keys[0]


def _no_invalid_labels(labels: Iterable[str]) -> Optional[str]:
    return None


def _non_universal_pos(labels: Iterable[str]) -> Optional[str]:
    bad = sorted({label for label in labels if not label or label not in UPOS_IDS})
    if not bad:
        return None
    return (
        f"labels {bad[:10]} that are not universal POS tags (allowed: {sorted(k for k in UPOS_IDS if k)}). "
        "Put language-specific tags under the 'tag' target instead."
    )


def _morph_key(token: Token, attr: str) -> int:
    """The hash of a token's analysis; unset and empty analyses differ."""
    return getattr(token, attr).key


def _score_morph(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    examples = list(examples)
    scores = Scorer.score_token_attr(examples, "morph", getter=_morph_key, **kwargs)
    scores.update(Scorer.score_token_attr_per_feat(examples, "morph", getter=_morph_key, **kwargs))
    return scores


TARGETS: Dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            name="tag",
            attr=TAG,
            token_label=lambda token: token.tag_,
            label_value=lambda vocab, label: vocab.strings.add(label),
            invalid_labels=_no_invalid_labels,
            score=lambda examples, **kwargs: Scorer.score_token_attr(examples, "tag", **kwargs),
            score_keys=("tag_acc",),
        ),
        Target(
            name="pos",
            attr=POS,
            token_label=lambda token: token.pos_,
            label_value=lambda vocab, label: UPOS_IDS[label],
            invalid_labels=_non_universal_pos,
            score=lambda examples, **kwargs: Scorer.score_token_attr(examples, "pos", **kwargs),
            score_keys=("pos_acc",),
        ),
        Target(
            name="morph",
            attr=MORPH,
            token_label=lambda token: (str(token.morph) or EMPTY_MORPH) if token.has_morph() else "",
            label_value=lambda vocab, label: vocab.morphology.add(label),
            invalid_labels=_no_invalid_labels,
            score=_score_morph,
            score_keys=("morph_acc", "morph_per_feat"),
        ),
    )
}


def validate_targets(targets: Sequence[str]) -> List[str]:
    """The targets as a list, or a ValueError naming the allowed ones."""
    if isinstance(targets, str) or not isinstance(targets, (list, tuple)) or not targets:
        raise ValueError(
            f"torch_tagger 'targets' must be a non-empty list drawn from {list(TARGETS)}, or "
            f'"{AUTO_TARGETS}" to predict what the training data annotates; got {targets!r}. '
            'Example: targets = ["tag", "pos", "morph"].'
        )
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        hint = (
            f' For targets chosen from the data, write targets = "{AUTO_TARGETS}", a string.'
            if AUTO_TARGETS in unknown
            else ""
        )
        raise ValueError(
            f"Unknown torch_tagger target(s) {unknown}: allowed targets are {list(TARGETS)}.{hint}"
        )
    if len(set(targets)) != len(targets):
        raise ValueError(f"torch_tagger 'targets' lists a target twice: {list(targets)}.")
    return list(targets)


def reference_labels(doc: Doc, target: str) -> Iterable[str]:
    """The labels a gold doc carries for the target; unannotated tokens give none."""
    token_label = TARGETS[target].token_label
    return (label for label in map(token_label, doc) if label)


def gold_labels(example: Example, target: str) -> List[Optional[str]]:
    """Aligned gold labels of the predicted tokens; None where missing or misaligned."""
    values = example.get_aligned(target.upper(), as_string=True)
    return [value if value else None for value in values]


def check_labels(target: str, labels: Iterable[str]) -> None:
    """Raise if a label cannot be written to a token for this target."""
    problem = TARGETS[target].invalid_labels(labels)
    if problem:
        raise ValueError(f"torch_tagger target '{target}' got {problem}")


def label_values(vocab: Vocab, target: str, labels: Sequence[str]) -> numpy.ndarray:
    """The uint64 value `Doc.from_array` stores for each label of the target."""
    label_value = TARGETS[target].label_value
    return numpy.asarray([label_value(vocab, label) for label in labels], dtype="uint64")
