"""Weights formats v1 and v2: the network's state dict as msgpack, inside thinc's
PyTorchShim bytes, in pipelines saved by spacy-torch-tagger 0.1.0 to 0.3.0.

v1 (0.1.0): a map of names to numpy arrays (srsly's msgpack array encoding).
v2 (0.2.0, 0.3.0): a list of (name, dtype, shape, little-endian bytes) with a SHA-256
of every tensor; bfloat16 tensors were saved as float32.
Both are read with `numpy.frombuffer`, which cannot execute anything.
"""

import hashlib
from typing import Any, Dict, List, Tuple

import numpy
import srsly

from .weights import REFUSED_PICKLE, WeightsError

WEIGHTS_FORMAT_V1 = "spacy_torch_tagger.weights.v1"
WEIGHTS_FORMAT_V2 = "spacy_torch_tagger.weights.v2"
DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


def read_legacy_weights(data: bytes) -> Dict[str, numpy.ndarray]:
    """Parse and check a v1 or v2 weights blob without unpickling anything."""
    try:
        message: Any = srsly.msgpack_loads(data)
    except ValueError as error:
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT_V2} format ({error}). {REFUSED_PICKLE}"
        ) from error
    found = message.get("format") if isinstance(message, dict) else type(message).__name__
    if found == WEIGHTS_FORMAT_V1:
        return _read_v1(message)
    if found != WEIGHTS_FORMAT_V2:
        raise WeightsError(
            f"The torch_tagger weights are not in the {WEIGHTS_FORMAT_V2} format (found {found!r}). "
            + REFUSED_PICKLE
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
