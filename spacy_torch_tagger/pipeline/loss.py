"""The training loss: softmax cross-entropy per target, summed, with tokens
that lack a gold value for a target masked out of that target."""

from typing import Dict, List, Optional, Sequence, Tuple, cast

from spacy.training import Example
from thinc.api import Ops, SequenceCategoricalCrossentropy
from thinc.types import Floats2d

from ..layers.network_output import split_columns
from .targets import gold_labels


def tagger_loss(
    ops: Ops,
    examples: Sequence[Example],
    scores: List[Floats2d],
    labels: Dict[str, List[str]],
    *,
    neg_prefix: str,
    label_smoothing: float,
    name: str,
) -> Tuple[float, List[Floats2d]]:
    """Loss and its gradient w.r.t. the logits of each doc (spaCy's tagger loss:
    softmax(logits) - target, per target)."""
    total = 0.0
    d_by_target = []
    for target, names in labels.items():
        truths = [gold_labels(example, target) for example in examples]
        check_gold(name, target, names, neg_prefix, truths)
        loss_func = SequenceCategoricalCrossentropy(
            names=names, normalize=False, neg_prefix=neg_prefix, label_smoothing=label_smoothing
        )
        probs = [
            ops.softmax(dict(split_columns(doc_scores, labels))[target], axis=-1) for doc_scores in scores
        ]
        d_target, loss = loss_func(probs, cast(List[Sequence[str]], truths))
        total += float(loss)
        d_by_target.append(d_target)
    if ops.xp.isnan(total):
        raise ValueError(f"torch_tagger '{name}' got a NaN loss: lower the learning rate.")
    return total, [ops.xp.hstack(parts) for parts in zip(*d_by_target, strict=True)]


def check_gold(
    name: str, target: str, labels: List[str], neg_prefix: str, truths: List[List[Optional[str]]]
) -> None:
    """Raise when a gold label (or the label of a negative one, `!X`) is not one of the target's."""
    known = set(labels)
    for doc_truths in truths:
        for value in doc_truths:
            if value is None or value in known:
                continue
            label = value[len(neg_prefix) :] if neg_prefix and value.startswith(neg_prefix) else value
            if label not in known:
                raise ValueError(
                    f"torch_tagger '{name}': gold {target} label {value!r} is not among the "
                    f"component's {len(known)} {target} labels. Initialize on data that contains "
                    "it, or regenerate the labels file with `spacy init labels`."
                )
