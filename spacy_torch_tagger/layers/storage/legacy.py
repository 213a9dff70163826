"""Reading models saved by spacy-torch-tagger 0.1.0, 0.2.0 and 0.3.0.

Their thinc messages are translated into the current layout, then loaded by
thinc like any other (tagger_model.load_model):

- 0.1.0 wrapped the network in a second thinc node (a `PyTorchWrapper_v3` named
  "pytorch") whose attrs held the label counts and the known-word keys as a plain
  array ("vocab"); its weights are in format v1.
- 0.2.0 and 0.3.0 had one node whose attrs held the label counts and, on a
  pretrained encoder, the checkpoint's files; the shim's bytes were thinc's own
  PyTorchShim map {"config", "state"}, the state in weights format v2.

The current shim bytes keep the label counts, the checkpoint files and the weights
(as safetensors) themselves (saved_network.py). The translation checks the old
checksums and writes the new ones; it records no builder settings or features, so
those are not checked against the config for an old pipeline.
"""

import io
from typing import Any, Dict, Optional

import numpy
import srsly
import torch

from ...errors import ModelFileError
from ..known_words import KnownWords
from .label_counts import read_label_counts
from .legacy_weights import read_legacy_weights
from .saved_network import SavedNetwork
from .weights import tensors_to_bytes

LEGACY_NODE_NAMES = ["torch_tagger", "pytorch"]
NONE = srsly.msgpack_dumps(None)


def upgrade_saved_layout(message: Any) -> Any:
    """A 0.1.0, 0.2.0 or 0.3.0 model message in the current layout; any other message unchanged."""
    if _node_names(message) == LEGACY_NODE_NAMES:
        message = _from_0_1_0_layout(message)
    if _holds_thinc_shim_bytes(message):
        message = _from_0_2_0_layout(message)
    return message


def _from_0_1_0_layout(message: Dict[str, Any]) -> Dict[str, Any]:
    """The 0.2.0 layout of a 0.1.0 message."""
    try:
        outer_attrs, wrapper_attrs = message["attrs"]
        keys = srsly.msgpack_loads(wrapper_attrs["vocab"])
        if not isinstance(keys, numpy.ndarray) or keys.dtype != numpy.uint64 or keys.ndim != 1:
            raise ModelFileError("its known-word keys are damaged")
        attrs: Dict[str, bytes] = {
            "dropout_rate": outer_attrs["dropout_rate"],
            "n_labels": wrapper_attrs["n_labels"],
            "known_words": KnownWords(keys).to_bytes(),
        }
        return {
            "nodes": [
                {"index": 0, "name": "torch_tagger", "dims": dict(message["nodes"][0]["dims"]), "refs": {}}
            ],
            "attrs": [attrs],
            "params": [{}],
            "shims": [message["shims"][1]],
        }
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(
            f"it looks like a spacy-torch-tagger 0.1.0 model but is damaged ({error!r})"
        ) from error


def _from_0_2_0_layout(message: Dict[str, Any]) -> Dict[str, Any]:
    """The current layout of a 0.2.0 / 0.3.0 message: label counts and checkpoint
    files join the weights, re-encoded as safetensors, in the shim's bytes."""
    try:
        attrs = dict(message["attrs"][0])
        state = srsly.msgpack_loads(message["shims"][0][0])["state"]
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ModelFileError(
            f"it looks like a spacy-torch-tagger 0.2.0 model but is damaged ({error!r})"
        ) from error
    n_labels = read_label_counts(attrs.get("n_labels", srsly.msgpack_dumps({})))
    checkpoint = attrs.pop("checkpoint", NONE)
    if not isinstance(state, bytes):
        raise ModelFileError("its network is damaged: the weights are not bytes")
    arrays = read_legacy_weights(state)
    tensors = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    saved = SavedNetwork(
        builder=None,
        features=None,
        n_labels=dict(n_labels),
        checkpoint=None if checkpoint == NONE else checkpoint,
        weights=tensors_to_bytes(tensors) if tensors else None,
    )
    return {**message, "attrs": [attrs], "shims": [[saved.to_bytes()]]}


def _holds_thinc_shim_bytes(message: Any) -> bool:
    """Whether the one node's shim bytes are thinc's PyTorchShim map, whose first key is
    "config" (0.1.0 to 0.3.0). Reads that key only, not the weights after it."""
    try:
        data = message["shims"][0][0]
        unpacker = srsly.msgpack.Unpacker(io.BytesIO(data), raw=False)
        return bool(unpacker.read_map_header() == 2 and unpacker.unpack() == "config")
    except (KeyError, IndexError, TypeError, ValueError, srsly.msgpack.exceptions.UnpackException):
        return False


def _node_names(message: Any) -> Optional[list]:
    nodes = message.get("nodes") if isinstance(message, dict) else None
    if not isinstance(nodes, list):
        return None
    return [node.get("name") if isinstance(node, dict) else None for node in nodes]
