"""Counting over compared tokens: per-label scores, confusions, accuracy by band, reliability."""

import math
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
from numpy.typing import ArrayLike

from ..calibration.temperature_scaling import ECE_BINS, calibration_error, confidence_bins

# (name, lowest, highest) count of the word in the training corpus; 0 is "unseen".
FREQUENCY_BANDS: Tuple[Tuple[str, float, float], ...] = (
    ("unseen", 0, 0),
    ("1", 1, 1),
    ("2-4", 2, 4),
    ("5-19", 5, 19),
    ("20-99", 20, 99),
    ("100+", 100, math.inf),
)
SEEN_BANDS: Tuple[Tuple[str, float, float], ...] = (("unseen", 0, 0), ("seen", 1, math.inf))
# (name, shortest, longest) sentence in tokens.
LENGTH_BANDS: Tuple[Tuple[str, float, float], ...] = (
    ("1-10", 1, 10),
    ("11-20", 11, 20),
    ("21-30", 21, 30),
    ("31-40", 31, 40),
    ("41+", 41, math.inf),
)


def _ratio(part: int, whole: int) -> Optional[float]:
    return part / whole if whole else None


@dataclass(frozen=True)
class LabelScore:
    """support: gold tokens with the label; predicted: tokens predicted as it; correct: both."""

    label: str
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> Optional[float]:
        return _ratio(self.correct, self.predicted)

    @property
    def recall(self) -> Optional[float]:
        return _ratio(self.correct, self.support)

    @property
    def f1(self) -> Optional[float]:
        return _ratio(2 * self.correct, self.support + self.predicted)


def label_scores(gold: Sequence[str], predicted: Sequence[str]) -> List[LabelScore]:
    """One LabelScore per gold or predicted label, the most frequent gold label first."""
    support = Counter(gold)
    predicted_counts = Counter(predicted)
    correct = Counter(g for g, p in zip(gold, predicted, strict=True) if g == p)
    labels = sorted(
        set(support) | set(predicted_counts), key=lambda x: (-support[x], -predicted_counts[x], x)
    )
    return [LabelScore(x, support[x], predicted_counts[x], correct[x]) for x in labels]


def frequent_labels(gold: Sequence[str], n: int) -> List[str]:
    """The n most frequent gold labels, most frequent first (ties by name)."""
    counts = Counter(gold)
    return sorted(counts, key=lambda x: (-counts[x], x))[:n]


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> numpy.ndarray:
    """Counts, rows gold and columns predicted, over `labels` plus a last "other" row and column."""
    index: Dict[str, int] = {label: i for i, label in enumerate(labels)}
    other = len(labels)
    matrix = numpy.zeros((other + 1, other + 1), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index.get(g, other), index.get(p, other)] += 1
    return matrix


@dataclass(frozen=True)
class Confusion:
    """A gold label predicted as another, how often, and where (indices into the token table)."""

    gold: str
    predicted: str
    count: int
    tokens: Tuple[int, ...]


def top_confusions(gold: Sequence[str], predicted: Sequence[str], n: int = 10) -> List[Confusion]:
    """The n most frequent (gold, predicted) pairs with gold != predicted."""
    where: Dict[Tuple[str, str], List[int]] = {}
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if g != p:
            where.setdefault((g, p), []).append(i)
    pairs = sorted(where, key=lambda pair: (-len(where[pair]), pair))[:n]
    return [Confusion(g, p, len(where[(g, p)]), tuple(where[(g, p)])) for g, p in pairs]


@dataclass(frozen=True)
class Band:
    """Tokens whose value falls in one band, and how many of them are correct."""

    name: str
    tokens: int
    correct: int

    @property
    def accuracy(self) -> Optional[float]:
        return _ratio(self.correct, self.tokens)


def accuracy_by_band(
    values: ArrayLike, correct: ArrayLike, bands: Sequence[Tuple[str, float, float]]
) -> List[Band]:
    """Accuracy of the tokens in each (name, low, high) band of `values` (inclusive)."""
    values_array = numpy.asarray(values, dtype=float)
    correct_array = numpy.asarray(correct, dtype=bool)
    result = []
    for name, low, high in bands:
        inside = (values_array >= low) & (values_array <= high)
        result.append(Band(name, int(inside.sum()), int((inside & correct_array).sum())))
    return result


@dataclass(frozen=True)
class ReliabilityBin:
    """Tokens whose predicted label's probability is in (low, high]."""

    low: float
    high: float
    tokens: int
    mean_probability: Optional[float]
    accuracy: Optional[float]


@dataclass(frozen=True)
class Reliability:
    """Reliability bins and the expected calibration error (token-weighted |accuracy - probability|)."""

    bins: Tuple[ReliabilityBin, ...]
    tokens: int
    expected_calibration_error: Optional[float]


def reliability(probabilities: ArrayLike, correct: ArrayLike, n_bins: int = ECE_BINS) -> Reliability:
    """Equal-width bins (low, high] of the tokens that have a probability (not NaN),
    and their ECE as the calibrate command computes it."""
    prob = numpy.asarray(probabilities, dtype=float)
    right = numpy.asarray(correct, dtype=bool)
    keep = ~numpy.isnan(prob)
    prob, right = prob[keep], right[keep]
    edges = numpy.linspace(0.0, 1.0, n_bins + 1)
    which = confidence_bins(prob, n_bins)
    bins = []
    for b in range(n_bins):
        inside = which == b
        n = int(inside.sum())
        mean_p = float(prob[inside].mean()) if n else None
        acc = float(right[inside].mean()) if n else None
        bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, mean_p, acc))
    total = int(keep.sum())
    return Reliability(tuple(bins), total, calibration_error(prob, right, n_bins) if total else None)
