"""Reading models saved by spacy-torch-tagger 0.1.0.

0.1.0 wrapped the network in a second thinc node (a `PyTorchWrapper_v3`,
named "pytorch") whose attrs held the known-word keys as a plain array
("vocab"). The current model is one node with a `KnownWords` attr. The
architectures and config keys are unchanged, so an old model directory
loads through this translation of its saved layout.
"""

from typing import Any, Dict

import numpy
import srsly

from .errors import ModelFileError
from .known_words import KnownWords

LEGACY_NODE_NAMES = ["torch_tagger", "pytorch"]


def upgrade_legacy_layout(message: Any) -> Any:
    """A 0.1.0 model message in the current layout; any other message unchanged."""
    nodes = message.get("nodes") if isinstance(message, dict) else None
    if not isinstance(nodes, list) or [_name(node) for node in nodes] != LEGACY_NODE_NAMES:
        return message
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
            "nodes": [{"index": 0, "name": "torch_tagger", "dims": dict(nodes[0]["dims"]), "refs": {}}],
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


def _name(node: Any) -> Any:
    return node.get("name") if isinstance(node, dict) else None
