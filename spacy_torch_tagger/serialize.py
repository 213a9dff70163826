"""Pickle-free serialization of the torch network's weights.

thinc's default `PyTorchShim` serializer uses `torch.save` / `torch.load`,
which unpickles: loading a downloaded model directory could run code. Here the
state dict is written as msgpack of plain numpy buffers (dtype, shape, bytes)
and read back with `numpy.frombuffer`, which cannot execute anything.
"""

from typing import Any, Dict, Optional

import numpy
import srsly
import torch

WEIGHTS_FORMAT = "spacy_torch_tagger.weights.v1"


class WeightsError(ValueError):
    """A weights blob that is not ours, is damaged, or does not fit the network."""


def serialize_network(network: Optional[torch.nn.Module]) -> bytes:
    """The network's state dict as msgpack; an unbuilt network gives an empty state."""
    tensors: Dict[str, numpy.ndarray] = {}
    if network is not None:
        for name, tensor in network.state_dict().items():
            tensors[name] = tensor.detach().cpu().contiguous().numpy()
    return srsly.msgpack_dumps({"format": WEIGHTS_FORMAT, "tensors": tensors})


def deserialize_network(
    network: Optional[torch.nn.Module], data: bytes, device: torch.device
) -> Optional[torch.nn.Module]:
    """Load weights written by `serialize_network` into an already built network."""
    tensors = read_weights(data)
    if not tensors:
        return network
    if network is None:
        raise WeightsError(
            "The torch_tagger weights cannot be loaded because the network has not been "
            "built yet: its label counts are unknown. Load the pipeline with spacy.load() "
            "or the component's from_disk()/from_bytes(), which build it from the saved labels."
        )
    expected = network.state_dict()
    if set(tensors) != set(expected):
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        raise WeightsError(
            "The saved torch_tagger weights do not fit the network built from the config: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}. The model directory and its "
            "config.cfg disagree; re-save the pipeline or restore the config it was trained with."
        )
    for name, array in tensors.items():
        if tuple(array.shape) != tuple(expected[name].shape):
            raise WeightsError(
                f"The saved torch_tagger weight '{name}' has shape {tuple(array.shape)} but the "
                f"network built from the config expects {tuple(expected[name].shape)}. The model "
                "directory and its config.cfg disagree; restore the config it was trained with."
            )
    state = {name: torch.from_numpy(array.copy()) for name, array in tensors.items()}
    network.load_state_dict(state)
    return network.to(device)


def read_weights(data: bytes) -> Dict[str, numpy.ndarray]:
    """Parse and validate a weights blob without unpickling anything."""
    try:
        message: Any = srsly.msgpack_loads(data)
    except Exception as error:
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT} format ({error}). "
            "Pickled weights (torch.save) are refused because unpickling can run code; "
            "re-save the model with this version of spacy-torch-tagger."
        ) from None
    if not isinstance(message, dict) or message.get("format") != WEIGHTS_FORMAT:
        found = message.get("format") if isinstance(message, dict) else type(message).__name__
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT} format (found {found!r}). "
            "Pickled weights (torch.save) are refused because unpickling can run code; "
            "re-save the model with this version of spacy-torch-tagger."
        )
    tensors = message.get("tensors")
    if not isinstance(tensors, dict) or not all(
        isinstance(name, str) and isinstance(array, numpy.ndarray) and array.dtype.kind in "fiub"
        for name, array in tensors.items()
    ):
        raise WeightsError(
            "The torch_tagger weights are damaged: expected a mapping of names to numeric arrays."
        )
    return tensors
