"""Scoring with spaCy's Scorer, for the targets a component predicts."""

import warnings
from typing import Any, Callable, Dict, Iterable, List, Sequence, Set

from spacy.language import Language
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


def fit_score_weights(nlp: Language, factory: str = "torch_tagger") -> None:
    """Make `[training.score_weights]` name the score keys of the targets the
    pipeline's torch_taggers predict, and no others.

    A factory's `default_score_weights` cannot know an instance's targets, and
    `spacy train` copies every key of `[training.score_weights]` into the saved
    meta's "performance" (0.0 for a key no component scores), which `spacy
    package` prints in the package's README. So: the keys of the targets in use
    are added unweighted (null) when missing, and the unweighted keys of targets
    no component predicts (configs filled by earlier versions list them all) are dropped. A
    weighted key of such a target is the user's choice: it is kept, with a warning.
    """
    weights: Dict[str, Any] = nlp.config["training"]["score_weights"]
    predicted: List[str] = []
    declared: Set[str] = set()
    for name in nlp.component_names:
        meta = nlp.get_pipe_meta(name)
        declared.update(meta.scores)
        if meta.factory == factory:
            targets = getattr(nlp.get_pipe(name), "targets", [])
            predicted += [key for target in targets for key in TARGETS[target].score_keys]
    for target in TARGETS.values():
        for key in target.score_keys:
            if key in predicted:
                weights.setdefault(key, None)
            elif key in weights and key not in declared:
                if weights[key] is None:
                    del weights[key]
                else:
                    warnings.warn(
                        f"[training.score_weights] weights {key} = {weights[key]}, but no component "
                        f"of the pipeline predicts {target.name}: `spacy train` will record {key} as "
                        "0.0 in the pipeline's meta and `spacy package` will print it in the README. "
                        f"Remove {key} from [training.score_weights].",
                        stacklevel=2,
                    )
