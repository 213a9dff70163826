"""Temperature scaling and the expected calibration error (ECE).

Temperature scaling divides a target's logits by one scalar T > 0 before the
softmax: T > 1 softens over-confident probabilities, T < 1 sharpens
under-confident ones, and the argmax (the predicted label) never changes. T is
fitted on held-out data by minimising the mean negative log-likelihood of the
gold labels (Guo et al. 2017, "On Calibration of Modern Neural Networks"). The
component applies the temperatures (pipeline/temperatures.py).

numpy only: no spaCy, no torch.
"""

import math

import numpy

# Bounds of the fitted temperature: beyond them the probabilities are all but
# one-hot (T -> 0) or uniform (T -> inf), and the search stops at the bound.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
ECE_BINS = 15
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def negative_log_likelihood(logits: numpy.ndarray, gold: numpy.ndarray, temperature: float = 1.0) -> float:
    """Mean -log p(gold) under softmax(logits / temperature), in float64."""
    logits, gold = _check_pairs(logits, gold)
    return _nll(logits, gold, temperature)


def _nll(logits: numpy.ndarray, gold: numpy.ndarray, temperature: float) -> float:
    scaled = logits / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_norm = numpy.log(numpy.exp(scaled - top).sum(axis=1)) + top[:, 0]
    return float(numpy.mean(log_norm - scaled[numpy.arange(len(gold)), gold]))


def fit_temperature(
    logits: numpy.ndarray,
    gold: numpy.ndarray,
    *,
    low: float = MIN_TEMPERATURE,
    high: float = MAX_TEMPERATURE,
    tolerance: float = 1e-5,
) -> float:
    """The temperature in [low, high] that minimises the mean NLL of `gold`.

    logits: (n_tokens, n_labels); gold: (n_tokens,) label indices.
    A golden-section search on log T: the NLL is convex in 1/T, so it has one
    minimum on the interval (at a bound when the data push T beyond it).
    """
    logits, gold = _check_pairs(logits, gold)
    if not 0.0 < low < high:
        raise ValueError(f"fit_temperature needs 0 < low < high, got low={low}, high={high}.")
    a, b = math.log(low), math.log(high)
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    f_c, f_d = _nll(logits, gold, math.exp(c)), _nll(logits, gold, math.exp(d))
    while b - a > tolerance:
        if f_c <= f_d:
            b, d, f_d = d, c, f_c
            c = b - _GOLDEN * (b - a)
            f_c = _nll(logits, gold, math.exp(c))
        else:
            a, c, f_c = c, d, f_d
            d = a + _GOLDEN * (b - a)
            f_d = _nll(logits, gold, math.exp(d))
    best = (a + b) / 2.0
    # The search never evaluates the bounds themselves: prefer one when it is better.
    candidates = [best, math.log(low), math.log(high)]
    losses = [_nll(logits, gold, math.exp(x)) for x in candidates]
    return float(math.exp(candidates[int(numpy.argmin(losses))]))


def confidence_bins(confidence: numpy.ndarray, bins: int = ECE_BINS) -> numpy.ndarray:
    """Each token's bin among `bins` equal-width bins of confidence (0, 1/bins], ..."""
    if bins < 1:
        raise ValueError(f"confidence bins need bins >= 1, got {bins}.")
    return numpy.clip(numpy.ceil(confidence * bins).astype("int64") - 1, 0, bins - 1)


def calibration_error(confidence: numpy.ndarray, correct: numpy.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = sum over confidence bins of (tokens in bin / all tokens) *
    |accuracy in bin - mean confidence in bin|; confidence and correct per token."""
    which = confidence_bins(confidence, bins)
    gap = numpy.bincount(which, weights=correct.astype("float64") - confidence, minlength=bins)
    return float(numpy.abs(gap).sum() / len(confidence))


def expected_calibration_error(probs: numpy.ndarray, gold: numpy.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the top-1 probability (see calibration_error).

    probs: (n_tokens, n_labels) probabilities; gold: (n_tokens,) label indices.
    """
    probs, gold = _check_pairs(probs, gold)
    return calibration_error(probs.max(axis=1), probs.argmax(axis=1) == gold, bins)


def _check_pairs(scores: numpy.ndarray, gold: numpy.ndarray) -> "tuple[numpy.ndarray, numpy.ndarray]":
    scores = numpy.asarray(scores, dtype="float64")
    gold = numpy.asarray(gold)
    if scores.ndim != 2 or gold.ndim != 1 or len(scores) != len(gold):
        raise ValueError(
            f"expected (n_tokens, n_labels) scores and (n_tokens,) gold indices, got shapes "
            f"{scores.shape} and {gold.shape}."
        )
    if not len(gold):
        raise ValueError("no tokens to calibrate on: the data has no gold labels for this target.")
    if not numpy.issubdtype(gold.dtype, numpy.integer) or gold.min() < 0 or gold.max() >= scores.shape[1]:
        raise ValueError(f"gold label indices must be integers in [0, {scores.shape[1]}).")
    return scores, gold.astype("int64")
