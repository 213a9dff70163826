"""Scoring with spaCy's Scorer, for the targets a component predicts."""

from typing import Any, Callable, Dict, Iterable, Sequence

from spacy.scorer import Scorer
from spacy.tokens import Token
from spacy.training import Example
from spacy.util import registry


def morph_key(token: Token, attr: str) -> int:
    """The hash of a token's analysis; unset and empty analyses differ."""
    return getattr(token, attr).key


def score_torch_tagger(
    examples: Iterable[Example], *, targets: Sequence[str] = ("tag",), **kwargs: Any
) -> Dict[str, Any]:
    """tag_acc, pos_acc, morph_acc and morph_per_feat, for the given targets."""
    examples = list(examples)
    scores: Dict[str, Any] = {}
    if "tag" in targets:
        scores.update(Scorer.score_token_attr(examples, "tag", **kwargs))
    if "pos" in targets:
        scores.update(Scorer.score_token_attr(examples, "pos", **kwargs))
    if "morph" in targets:
        scores.update(Scorer.score_token_attr(examples, "morph", getter=morph_key, **kwargs))
        scores.update(Scorer.score_token_attr_per_feat(examples, "morph", getter=morph_key, **kwargs))
    return scores


@registry.scorers("spacy_torch_tagger.scorer.v1")
def make_torch_tagger_scorer() -> Callable[..., Dict[str, Any]]:
    return score_torch_tagger
