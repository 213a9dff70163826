"""Run a pipeline over a .spacy corpus exactly as `spacy evaluate` does."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import numpy
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.training import Corpus, Example
from thinc.util import convert_recursive

# The targets the report knows, with the key spaCy's scorer gives each accuracy.
ACCURACY_KEYS: Dict[str, str] = {"tag": "tag_acc", "pos": "pos_acc", "morph": "morph_acc"}


@dataclass
class Evaluation:
    """One pipeline's predictions on a corpus and spaCy's scores of them.

    examples: one Example per corpus item, `predicted` holding the pipeline's output.
    scores: what `spacy evaluate` (`Language.evaluate`) returns, without "speed".
    """

    name: str
    path: str
    examples: List[Example]
    scores: Dict[str, Any]

    @property
    def targets(self) -> List[str]:
        """The targets the pipeline is scored on (its scorer gives them an accuracy)."""
        return [target for target, key in ACCURACY_KEYS.items() if self.scores.get(key) is not None]


def load_examples(nlp: Language, data_path: Path, gold_preproc: bool) -> List[Example]:
    """The corpus as `spacy evaluate` reads it: unannotated predicted docs, gold references."""
    return list(Corpus(data_path, gold_preproc=gold_preproc)(nlp))


def evaluate(name: str, path: str, nlp: Language, examples: List[Example]) -> Evaluation:
    """Language.evaluate's steps, keeping the annotated examples it otherwise discards."""
    annotated = [Example(eg.predicted.copy(), eg.reference) for eg in examples]
    docs = nlp.pipe((eg.predicted for eg in annotated), batch_size=nlp.batch_size)
    for eg, doc in zip(annotated, docs, strict=True):
        eg.predicted = doc
    scores = Scorer(nlp=nlp).score(annotated)
    scores = convert_recursive(lambda v: isinstance(v, numpy.floating), lambda v: float(v), dict(scores))
    return Evaluation(name=name, path=path, examples=annotated, scores=scores)
