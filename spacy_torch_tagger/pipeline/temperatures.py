"""The calibration temperature of each target (the component's cfg["temperatures"]):
checked, and applied as softmax(logits / T). 1.0 until calibration fits one
(calibration/). numpy only."""

import math
from typing import Any, Dict, Sequence

import numpy


def softmax(logits: numpy.ndarray, temperature: float = 1.0) -> numpy.ndarray:
    """Row-wise softmax of `logits / temperature`, in the logits' float type."""
    scaled = numpy.asarray(logits) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = numpy.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def check_temperatures(owner: str, temperatures: Any, targets: Sequence[str]) -> Dict[str, float]:
    """`temperatures` as {target: T} with a finite T > 0 for each of `targets`."""
    if not isinstance(temperatures, dict) or set(temperatures) != set(targets):
        raise ValueError(
            f"{owner}: temperatures must map each target {list(targets)} to a number > 0, "
            f"got {temperatures!r}."
        )
    checked = {}
    for target in targets:
        value = temperatures[target]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise ValueError(f"{owner}: the temperature of {target!r} must be a number > 0, got {value!r}.")
        checked[target] = float(value)
    return checked
