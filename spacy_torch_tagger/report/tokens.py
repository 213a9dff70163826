"""The tokens the per-token analysis compares, one table per target.

A predicted token is compared when it aligns one-to-one with a gold token that has a
label for the target (spaCy's `Example.alignment`, both directions) and is not
whitespace. With gold tokens (`--gold-preproc`) that is every annotated token; with the
pipeline's own tokenizer, tokens split or merged differently from the gold ones are left
out (spaCy's scorer counts them as errors, so its accuracy can be lower).
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Token
from spacy.training import Example

from ..pipeline.probabilities import PROBS_EXTENSION
from ..pipeline.targets import TARGETS

# The label shown where the pipeline left a token's target unset.
NO_LABEL = "(none)"

# probability_of(predicted token, target) -> the probability the pipeline gave the label
# it predicted, or None where it gives none.
ProbabilityOf = Callable[[Token, str], Optional[float]]


def no_probabilities(token: Token, target: str) -> Optional[float]:
    """The ProbabilityOf of a pipeline that exposes no probabilities."""
    return None


def torch_tagger_probability(token: Token, target: str) -> Optional[float]:
    """The probability a torch_tagger (with `probabilities` on) gave its label for
    the token's target, or None."""
    if not Token.has_extension(PROBS_EXTENSION):
        return None
    probabilities = getattr(token._, PROBS_EXTENSION)
    return None if probabilities is None else probabilities.get(target)


@dataclass
class TokenTable:
    """The compared tokens of one target, in corpus order (one entry per token).

    contexts: (example index, gold token index) of each token.
    sentence_lengths: the length of the gold sentence each token is in.
    probabilities: ProbabilityOf's value, NaN where it gave None.
    annotated: the gold tokens with a label for the target, compared or not.
    """

    target: str
    gold: List[str]
    predicted: List[str]
    words: List[str]
    contexts: List[Tuple[int, int]]
    sentence_lengths: numpy.ndarray
    probabilities: numpy.ndarray
    annotated: int

    def __len__(self) -> int:
        return len(self.gold)

    @property
    def correct(self) -> numpy.ndarray:
        return numpy.asarray([g == p for g, p in zip(self.gold, self.predicted, strict=True)], dtype=bool)

    @property
    def has_probabilities(self) -> bool:
        return bool(len(self)) and not numpy.isnan(self.probabilities).all()


def sentence_lengths(doc: Doc) -> List[int]:
    """The length of each token's sentence; the whole doc where sentences are unset."""
    if not doc.has_annotation("SENT_START"):
        return [len(doc)] * len(doc)
    lengths = [0] * len(doc)
    for sent in doc.sents:
        for i in range(sent.start, sent.end):
            lengths[i] = len(sent)
    return lengths


def token_table(
    examples: List[Example], target: str, probability_of: ProbabilityOf = no_probabilities
) -> TokenTable:
    """The compared tokens of `target` in annotated examples (see the module docstring)."""
    label_of = TARGETS[target].token_label
    gold: List[str] = []
    predicted: List[str] = []
    words: List[str] = []
    contexts: List[Tuple[int, int]] = []
    lengths: List[int] = []
    probabilities: List[float] = []
    annotated = 0
    for eg_i, eg in enumerate(examples):
        gold_labels = [label_of(token) for token in eg.reference]
        annotated += sum(1 for label in gold_labels if label)
        ref_lengths = sentence_lengths(eg.reference)
        x2y, y2x = eg.alignment.x2y, eg.alignment.y2x
        for token in eg.predicted:
            if token.orth_.isspace() or x2y.lengths[token.i] != 1:
                continue
            gold_i = int(x2y[token.i][0])
            if y2x.lengths[gold_i] != 1 or not gold_labels[gold_i]:
                continue
            gold.append(gold_labels[gold_i])
            predicted.append(label_of(token) or NO_LABEL)
            words.append(eg.reference[gold_i].text)
            contexts.append((eg_i, gold_i))
            lengths.append(ref_lengths[gold_i])
            probability = probability_of(token, target)
            probabilities.append(numpy.nan if probability is None else float(probability))
    return TokenTable(
        target=target,
        gold=gold,
        predicted=predicted,
        words=words,
        contexts=contexts,
        sentence_lengths=numpy.asarray(lengths, dtype=int),
        probabilities=numpy.asarray(probabilities, dtype=float),
        annotated=annotated,
    )


def training_word_counts(nlp: Language, train_path: Path) -> Counter:
    """How often each word (the exact token text) occurs in a .spacy training corpus."""
    counts: Counter = Counter()
    for doc in DocBin().from_disk(train_path).get_docs(nlp.vocab):
        counts.update(token.text for token in doc)
    return counts


def marked_context(doc: Doc, i: int, window: int = 12) -> Tuple[str, str, str]:
    """(text before, token, text after) within the token's sentence, `window` tokens each side,
    with the text's own spaces (the before part ends, the after part starts with them)."""
    if doc.has_annotation("SENT_START"):
        sent = doc[i].sent
        start, end = sent.start, sent.end
    else:
        start, end = 0, len(doc)
    left_start, right_end = max(start, i - window), min(end, i + 1 + window)
    left = ("… " if left_start > start else "") + doc[left_start:i].text_with_ws
    right = doc[i].whitespace_ + doc[i + 1 : right_end].text + (" …" if right_end < end else "")
    return left, doc[i].text, right
