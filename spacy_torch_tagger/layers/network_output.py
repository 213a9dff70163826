"""The network's output: its dict of logits per target, checked against the contract
and joined into one (n_tokens, nO) block, the targets' columns side by side; and the
inverse, a block split back into one column range per target."""

from typing import Dict, Iterator, List, Mapping, Tuple

import torch
from thinc.types import Floats2d


def join_logits(logits: object, n_labels: Mapping[str, int], n_tokens: int) -> torch.Tensor:
    """The network's logits of every target side by side (in `n_labels` order),
    as float32, after checking them against the output contract."""
    check_network_output(logits, n_labels, n_tokens)
    outputs: Dict[str, torch.Tensor] = logits  # type: ignore[assignment]  # checked above
    return torch.cat([outputs[target] for target in n_labels], dim=1).float()


def check_network_output(logits: object, n_labels: Mapping[str, int], n_tokens: int) -> None:
    """Raise a clear error when a network breaks the output contract: a dict
    with one floating-point tensor of shape (n_tokens, n_labels[target]) per target."""
    expected = ", ".join(f"'{target}': ({n_tokens}, {n})" for target, n in n_labels.items())
    contract = f"The tagging network must return a dict of logits {{{expected}}} (float tensors)"
    if not isinstance(logits, dict):
        raise ValueError(f"{contract}, but returned a {type(logits).__name__}.")
    missing = [target for target in n_labels if target not in logits]
    unexpected = [key for key in logits if key not in n_labels]
    if missing or unexpected:
        raise ValueError(f"{contract}, but its keys miss {missing} and add {unexpected}.")
    for target, n in n_labels.items():
        value = logits[target]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{contract}, but '{target}' is a {type(value).__name__}.")
        if not value.is_floating_point():
            raise ValueError(
                f"{contract}, but '{target}' has dtype {value.dtype}: return unnormalized float logits."
            )
        if tuple(value.shape) != (n_tokens, n):
            raise ValueError(
                f"{contract}, but '{target}' has shape {tuple(value.shape)}: one row per token "
                f"of the batch ({n_tokens}) and one column per label ({n})."
            )


def split_columns(scores: Floats2d, labels: Dict[str, List[str]]) -> Iterator[Tuple[str, Floats2d]]:
    """A doc's (n_tokens, nO) scores as one column block per target, in label order
    (the inverse of `join_logits`)."""
    start = 0
    for target, names in labels.items():
        end = start + len(names)
        yield target, scores[:, start:end]
        start = end
