"""The torch network's weights as a safetensors file.

safetensors holds names, dtypes, shapes and raw bytes behind a JSON header:
reading it cannot run code, unlike `torch.load` of a pickle. The weights are
checked against the network they load into: every name, shape and kind of dtype
must match, and a mismatch names the tensor. The SHA-256 that detects damage is
kept beside them (saved_network.py).
"""

from typing import Dict

import safetensors
import safetensors.torch
import torch

from ...errors import ModelFileError

REFUSED_PICKLE = (
    "Pickled weights (torch.save) are refused because unpickling can run code; "
    "re-save the pipeline with this version of spacy-torch-tagger."
)


class WeightsError(ModelFileError):
    """Weights that are not a safetensors file, or do not fit the network."""


def network_weights(network: torch.nn.Module) -> bytes:
    """The network's state dict as a safetensors file (dtypes kept, bfloat16 included)."""
    return tensors_to_bytes({name: tensor.detach() for name, tensor in network.state_dict().items()})


def tensors_to_bytes(tensors: Dict[str, torch.Tensor]) -> bytes:
    """Named tensors as a safetensors file."""
    # Copies: safetensors refuses tensors that share storage (tied weights, views).
    copies = {name: tensor.to("cpu", copy=True).contiguous() for name, tensor in tensors.items()}
    return safetensors.torch.save(copies, metadata={"format": "pt"})


def load_weights(network: torch.nn.Module, data: bytes) -> None:
    """Load a safetensors file written by `network_weights` into a built network."""
    tensors = read_tensors(data)
    expected = network.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            "The saved torch_tagger weights do not fit the network built from the config: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}. Restore the config.cfg the "
            "pipeline was trained with, or re-train."
        )
    for name, want in expected.items():  # the network's own order: its first layer first
        tensor = tensors[name]
        if tuple(tensor.shape) != tuple(want.shape):
            raise WeightsError(
                f"The saved torch_tagger weight '{name}' has shape {tuple(tensor.shape)} but the "
                f"network built from the config expects {tuple(want.shape)}. Restore the config.cfg "
                "the pipeline was trained with, or re-train."
            )
        # Floating-point weights may change precision (load_state_dict casts); nothing else may.
        if tensor.dtype != want.dtype and not (tensor.is_floating_point() and want.is_floating_point()):
            raise WeightsError(
                f"The saved torch_tagger weight '{name}' is {tensor.dtype} but the network expects "
                f"{want.dtype}: the weights are not this network's. Restore the pipeline or re-train."
            )
    network.load_state_dict(tensors)


def read_tensors(data: bytes) -> Dict[str, torch.Tensor]:
    """Parse a safetensors file; anything else (a pickle, damaged bytes) raises WeightsError."""
    try:
        return safetensors.torch.load(data)
    except (safetensors.SafetensorError, ValueError, TypeError, KeyError) as error:
        raise WeightsError(
            f"The torch_tagger weights are not a valid safetensors file ({error}). {REFUSED_PICKLE}"
        ) from error
