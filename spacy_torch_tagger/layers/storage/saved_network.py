"""The bytes of a torch_tagger network: what `TaggerShim.to_bytes` writes.

A msgpack map in the format `spacy_torch_tagger.network.v3`:

- `network`: JSON with the builder's registry name and settings (`builder`; null for
  a builder that does not record them), the token features (`features`) and the
  label count of each target (`n_labels`; {} before the network is built);
- `checkpoint`: the kept files of a pretrained checkpoint (`Checkpoint.to_bytes`, with
  their own SHA-256), or null;
- `weights`: the state dict as a safetensors file, or null before the network is built;
- `sha256`: the SHA-256 of `network` and of `weights`.

Everything the network is rebuilt from is here, so thinc's `Model.from_bytes` needs
nothing else. Nothing is unpickled. (Weights formats v1 and v2 were msgpack inside
thinc's own PyTorchShim bytes; legacy.py reads them.)
"""

import hashlib
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import srsly

from ...errors import ModelFileError
from .label_counts import is_label_counts

FORMAT = "spacy_torch_tagger.network.v3"
PARTS = ("network", "checkpoint", "weights")
# The checkpoint's files carry their own SHA-256 (layers/checkpoint.py).
CHECKSUMMED = ("network", "weights")
# Token features that shape no weight: the known-word table itself is saved.
FREE_FEATURES = {"vocab_min_count"}


class SavedNetworkError(ModelFileError):
    """Network bytes that are not ours, are damaged, or come from another version."""


@dataclass(frozen=True)
class SavedNetwork:
    """A network as saved: how to build it, its checkpoint files and its weights."""

    builder: Optional[Dict[str, Any]]
    features: Optional[Dict[str, Any]]
    n_labels: Dict[str, int]
    checkpoint: Optional[bytes]
    weights: Optional[bytes]

    def to_bytes(self) -> bytes:
        network = srsly.json_dumps(
            {"builder": self.builder, "features": self.features, "n_labels": self.n_labels}
        ).encode("utf8")
        parts = {"network": network, "checkpoint": self.checkpoint, "weights": self.weights}
        return srsly.msgpack_dumps({"format": FORMAT, **parts, "sha256": _checksums(parts)})

    @classmethod
    def from_bytes(cls, data: bytes) -> "SavedNetwork":
        """Parse and check bytes written by `to_bytes`; SavedNetworkError names what is wrong."""
        try:
            message: Any = srsly.msgpack_loads(data)
        except ValueError as error:
            raise SavedNetworkError(f"the network is not in the {FORMAT} format ({error})") from error
        if not isinstance(message, dict):
            raise SavedNetworkError(f"the network is not in the {FORMAT} format")
        _check_format(message)
        parts = {part: message.get(part) for part in PARTS}
        if not isinstance(parts["network"], bytes) or not all(
            isinstance(parts[part], (bytes, type(None))) for part in PARTS
        ):
            raise SavedNetworkError("the network is damaged: its parts are not bytes")
        checksums = message.get("sha256")
        if not isinstance(checksums, dict):
            raise SavedNetworkError("the network is damaged: it has no checksums")
        for part, expected in _checksums(parts).items():
            if checksums.get(part) != expected:
                raise SavedNetworkError(
                    f"the {part} part of the network is damaged: its SHA-256 checksum does not match "
                    "the stored one (the file was changed after it was saved, or corrupted in transfer)"
                )
        description = _description(parts["network"])
        if bool(description["n_labels"]) != (parts["weights"] is not None):
            raise SavedNetworkError(
                f"the network is damaged: label counts {description['n_labels']} with "
                f"{'no ' if parts['weights'] is None else ''}weights"
            )
        return cls(**description, checkpoint=parts["checkpoint"], weights=parts["weights"])

    def check_config(
        self, builder: Optional[Dict[str, Any]], features: Dict[str, Any], free: Sequence[str] = ()
    ) -> None:
        """Raise SavedNetworkError naming each setting in which the config's builder or
        features differ from the saved ones (either unrecorded: not checked), except the
        builder's `free` settings and FREE_FEATURES, which shape no weight."""
        differences = []
        checked = (
            ("network", self.builder, builder, set(free)),
            ("features", self.features, features, FREE_FEATURES),
        )
        for part, saved, given, skipped in checked:
            if saved is None or given is None:
                continue
            for key in sorted((set(saved) | set(given)) - set(skipped)):
                was, now = srsly.json_dumps(saved.get(key)), srsly.json_dumps(given.get(key))
                if saved.get(key) != given.get(key):
                    differences.append(f"{part}.{key} = {was} (the config: {now})")
        if differences:
            raise SavedNetworkError(
                f"the network was trained with {'; '.join(differences)}: the config must be the "
                "config.cfg saved with the pipeline"
            )


def _check_format(message: Dict[Any, Any]) -> None:
    found = message.get("format")
    if found == FORMAT:
        return
    if found is None and set(message) == {"config", "state"}:
        raise SavedNetworkError(
            "the network was saved by spacy-torch-tagger 0.3.0 or earlier (thinc's own shim "
            "bytes): load the pipeline with spacy.load() or the component's from_disk() / "
            "from_bytes(), which read that layout, then save it again to update it"
        )
    if isinstance(found, str) and found.startswith("spacy_torch_tagger."):
        raise SavedNetworkError(
            f"the network is in the format {found!r}, which this version does not read (it reads "
            f"{FORMAT!r}): it was saved by another spacy-torch-tagger version; install the one that saved it"
        )
    raise SavedNetworkError(f"the network is not in the {FORMAT} format (found {found!r})")


def _description(network: bytes) -> Dict[str, Any]:
    try:
        description = srsly.json_loads(network)
    except ValueError as error:
        raise SavedNetworkError(f"the network's description is damaged ({error})") from error
    if not isinstance(description, dict):
        raise SavedNetworkError("the network's description is damaged: not a JSON object")
    builder, features, n_labels = (description.get(key) for key in ("builder", "features", "n_labels"))
    if not isinstance(builder, (dict, type(None))) or not isinstance(features, (dict, type(None))):
        raise SavedNetworkError("the network's description is damaged: builder or features")
    if not is_label_counts(n_labels):
        raise SavedNetworkError(f"the network's label counts are damaged (found {n_labels!r})")
    return {"builder": builder, "features": features, "n_labels": n_labels}


def _checksums(parts: Dict[str, Optional[bytes]]) -> Dict[str, str]:
    return {
        part: hashlib.sha256(data).hexdigest()
        for part, data in parts.items()
        if part in CHECKSUMMED and data is not None
    }
