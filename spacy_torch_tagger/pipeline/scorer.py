"""Scoring with spaCy's Scorer, for the targets a component predicts."""

from typing import Any, Callable, Dict, Iterable, Sequence

from spacy.training import Example
from spacy.util import registry

from .targets import TARGETS

# The mean accuracy over the targets a component predicts. The factory weights
# it, so `spacy init fill-config` and `spacy train` select on the targets in use.
COMBINED_KEY = "targets_acc"


def score_torch_tagger(
    examples: Iterable[Example], *, targets: Sequence[str] = ("tag",), **kwargs: Any
) -> Dict[str, Any]:
    """spaCy's accuracy keys for the given targets (tag_acc, pos_acc, morph_acc,
    morph_per_feat) and their mean as `targets_acc`."""
    examples = list(examples)
    scores: Dict[str, Any] = {}
    for target in targets:
        scores.update(TARGETS[target].score(examples, **kwargs))
    accuracies = [scores[TARGETS[target].accuracy_key] for target in targets]
    known = [value for value in accuracies if value is not None]
    scores[COMBINED_KEY] = sum(known) / len(known) if known else None
    return scores


@registry.scorers("spacy_torch_tagger.scorer.v1")
def make_torch_tagger_scorer() -> Callable[..., Dict[str, Any]]:
    return score_torch_tagger
