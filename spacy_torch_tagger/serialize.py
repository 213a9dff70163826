"""Pickle-free serialization of the torch network's weights, with a checksum.

thinc's default `PyTorchShim` serializer uses `torch.save` / `torch.load`,
which unpickles: loading a downloaded model directory could run code. Here the
state dict is written as msgpack of raw little-endian buffers (name, dtype,
shape, bytes) and read back with `numpy.frombuffer`, which cannot execute
anything. Format v2 adds a SHA-256 of every tensor, so damaged weights are
refused instead of loaded; v1 (no checksum, spacy-torch-tagger 0.1.0) still loads.
"""

import hashlib
from typing import Any, Dict, List, Optional, Tuple

import numpy
import srsly
import torch

from .errors import ModelFileError

WEIGHTS_FORMAT = "spacy_torch_tagger.weights.v2"
WEIGHTS_FORMAT_V1 = "spacy_torch_tagger.weights.v1"
DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


class WeightsError(ModelFileError):
    """A weights blob that is not ours, is damaged, or does not fit the network."""


def serialize_network(network: Optional[torch.nn.Module]) -> bytes:
    """The network's state dict as msgpack; an unbuilt network gives an empty state."""
    tensors: List[Tuple[str, str, List[int], bytes]] = []
    if network is not None:
        for name, tensor in network.state_dict().items():
            array = _to_numpy(tensor)
            tensors.append(
                (
                    name,
                    array.dtype.name,
                    list(array.shape),
                    array.astype(array.dtype.newbyteorder("<")).tobytes(),
                )
            )
    return srsly.msgpack_dumps({"format": WEIGHTS_FORMAT, "tensors": tensors, "sha256": _checksum(tensors)})


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
    except ValueError as error:
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT} format ({error}). "
            "Pickled weights (torch.save) are refused because unpickling can run code; "
            "re-save the model with this version of spacy-torch-tagger."
        ) from error
    found = message.get("format") if isinstance(message, dict) else type(message).__name__
    if found == WEIGHTS_FORMAT_V1:
        return _read_v1(message)
    if found != WEIGHTS_FORMAT:
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT} format (found {found!r}). "
            "Pickled weights (torch.save) are refused because unpickling can run code; "
            "re-save the model with this version of spacy-torch-tagger."
        )
    tensors = message.get("tensors")
    if not isinstance(tensors, list) or not all(_is_entry(entry) for entry in tensors):
        raise WeightsError(
            "The torch_tagger weights are damaged: expected a list of (name, dtype, shape, bytes)."
        )
    if message.get("sha256") != _checksum([tuple(entry) for entry in tensors]):
        raise WeightsError(
            "The torch_tagger weights are damaged: their SHA-256 checksum does not match the "
            "stored one (the file was changed after it was saved, or corrupted in transfer). "
            "Restore the model directory from its source or re-train."
        )
    arrays = {}
    for name, dtype, shape, raw in tensors:
        try:
            arrays[name] = numpy.frombuffer(raw, dtype=numpy.dtype(dtype).newbyteorder("<")).reshape(shape)
        except ValueError as error:
            raise WeightsError(f"The torch_tagger weight '{name}' is damaged: {error}.") from error
    return arrays


def _read_v1(message: Dict[str, Any]) -> Dict[str, numpy.ndarray]:
    tensors = message.get("tensors")
    if not isinstance(tensors, dict) or not all(
        isinstance(name, str) and isinstance(array, numpy.ndarray) and array.dtype.kind in "fiub"
        for name, array in tensors.items()
    ):
        raise WeightsError(
            "The torch_tagger weights are damaged: expected a mapping of names to numeric arrays."
        )
    return tensors


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, (list, tuple))
        and len(entry) == 4
        and isinstance(entry[0], str)
        and entry[1] in DTYPES
        and isinstance(entry[2], (list, tuple))
        and all(isinstance(n, int) and n >= 0 for n in entry[2])
        and isinstance(entry[3], bytes)
    )


def _checksum(tensors: List[Tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for name, dtype, shape, raw in tensors:
        digest.update(srsly.msgpack_dumps([name, dtype, list(shape)]))
        digest.update(raw)
    return digest.hexdigest()


def _to_numpy(tensor: torch.Tensor) -> numpy.ndarray:
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()
