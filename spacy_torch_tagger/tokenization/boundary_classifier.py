"""A linear classifier over hashed features that says whether a candidate position is
a token boundary; trained with torch, applied with numpy, stored as safetensors."""

import json
from typing import Any, Dict, Iterable, List, Sequence, Set, Tuple

import numpy
import safetensors
import safetensors.numpy
import torch

from ..errors import ModelFileError

FORMAT = "spacy_torch_tagger.boundaries"
VERSION = 1
METADATA_KEY = "spacy_torch_tagger"
BATCH_SIZE = 4096


class BoundaryDataError(ModelFileError):
    """Saved tokenizer boundary data that is damaged or not ours."""


class BoundaryClassifier:
    """Weights per hashed feature row and a bias; a position is a boundary when their sum is positive.

    Until trained (or loaded trained) it decides nothing: `trained` is False and the
    tokenizer keeps its base tokens.
    """

    def __init__(self, bits: int) -> None:
        if not 8 <= bits <= 26:
            raise ValueError(
                f"hash_bits must be between 8 and 26, not {bits}: 2**hash_bits feature rows are kept."
            )
        self.bits = bits
        self.weights = numpy.zeros(0, dtype=numpy.float32)
        self.bias = 0.0
        self.splittable: Set[str] = set()
        self.trained = False

    def score(self, ids: Sequence[int]) -> float:
        """The logit of a boundary at a position with these feature rows."""
        return float(self.weights[list(ids)].sum(dtype=numpy.float64)) + self.bias

    def fit(
        self,
        rows: List[List[int]],
        labels: List[bool],
        splittable: Iterable[str],
        epochs: int,
        learn_rate: float,
        seed: int,
    ) -> None:
        """Train on candidate rows (feature ids, rows of one length) and whether each is a gold boundary."""
        self.splittable = set(splittable)
        weights = torch.zeros(1 << self.bits, requires_grad=True)
        bias = torch.zeros(1, requires_grad=True)
        if rows:
            ids = torch.tensor(rows, dtype=torch.long)
            targets = torch.tensor(labels, dtype=torch.float32)
            optimizer = torch.optim.Adam([weights, bias], lr=learn_rate)
            generator = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                order = torch.randperm(len(rows), generator=generator)
                for begin in range(0, len(rows), BATCH_SIZE):
                    batch = order[begin : begin + BATCH_SIZE]
                    logits = weights[ids[batch]].sum(dim=1) + bias
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[batch])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        self.weights = weights.detach().numpy().astype(numpy.float32)
        self.bias = float(bias.item())
        self.trained = bool(rows)

    def to_bytes(self) -> bytes:
        """The non-zero weights, the bias and the splittable tokens as a safetensors file."""
        rows = numpy.flatnonzero(self.weights).astype(numpy.int64)
        tensors: Dict[str, numpy.ndarray] = {
            "rows": rows,
            "values": self.weights[rows].astype(numpy.float32),
            "bias": numpy.array([self.bias], dtype=numpy.float32),
        }
        settings = {
            "format": FORMAT,
            "version": VERSION,
            "bits": self.bits,
            "trained": self.trained,
            "splittable": sorted(self.splittable),
        }
        # One metadata key: safetensors writes several in no fixed order, and the bytes should not vary.
        return safetensors.numpy.save(
            tensors, metadata={METADATA_KEY: json.dumps(settings, ensure_ascii=False)}
        )

    def from_bytes(self, data: bytes) -> "BoundaryClassifier":
        """Load what to_bytes wrote; anything else raises BoundaryDataError."""
        tensors, settings = read_boundary_file(data)
        bits = settings["bits"]
        if bits != self.bits:
            raise BoundaryDataError(
                f"The saved tokenizer boundaries use hash_bits = {bits} but the config says {self.bits}: "
                f"set [nlp.tokenizer] hash_bits = {bits}, or re-train."
            )
        rows, values = tensors["rows"], tensors["values"]
        if rows.shape != values.shape or (len(rows) and (rows.min() < 0 or rows.max() >= 1 << bits)):
            raise BoundaryDataError(
                "The saved tokenizer boundary weights are damaged: rows and values do not match."
            )
        weights = numpy.zeros(1 << bits, dtype=numpy.float32)
        weights[rows] = values
        self.weights = weights
        self.bias = float(tensors["bias"][0])
        self.splittable = set(settings["splittable"])
        self.trained = settings["trained"]
        return self


def read_boundary_file(data: bytes) -> Tuple[Dict[str, numpy.ndarray], Dict[str, Any]]:
    """The tensors and settings of a boundary file, checked for form: names, dtypes, finite values."""
    try:
        tensors: Dict[str, numpy.ndarray] = safetensors.numpy.load(data)
        # safetensors' numpy API does not return the metadata; the header it just parsed holds it.
        header_length = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_length]).get("__metadata__") or {}
    except (safetensors.SafetensorError, ValueError, TypeError, KeyError) as error:
        raise BoundaryDataError(
            f"The tokenizer boundary file is not a valid safetensors file ({error}). "
            "Pickled files are never loaded: restore the pipeline folder or re-train."
        ) from error
    try:
        settings = json.loads(metadata[METADATA_KEY])
        described = (settings["format"], settings["version"])
    except (KeyError, TypeError, ValueError) as error:
        raise BoundaryDataError(
            f"The tokenizer boundary file's metadata is missing or damaged ({error!r})."
        ) from error
    if described != (FORMAT, VERSION):
        raise BoundaryDataError(
            f"The tokenizer boundary file is not {FORMAT} version {VERSION} (it says {described[0]!r}, "
            f"version {described[1]!r}): restore the pipeline folder or re-train."
        )
    splittable = settings.get("splittable")
    if not (
        isinstance(settings.get("bits"), int)
        and 8 <= settings["bits"] <= 26
        and isinstance(settings.get("trained"), bool)
        and isinstance(splittable, list)
        and all(isinstance(item, str) for item in splittable)
    ):
        raise BoundaryDataError(
            "The tokenizer boundary file's metadata is damaged (bits, trained or splittable tokens)."
        )
    expected = {"rows": numpy.int64, "values": numpy.float32, "bias": numpy.float32}
    for name, dtype in expected.items():
        if name not in tensors or tensors[name].dtype != dtype or tensors[name].ndim != 1:
            raise BoundaryDataError(
                f"The tokenizer boundary file lacks a 1-d {numpy.dtype(dtype).name} tensor '{name}'."
            )
    if len(tensors["bias"]) != 1 or not all(
        numpy.isfinite(tensors[name]).all() for name in ("values", "bias")
    ):
        raise BoundaryDataError(
            "The tokenizer boundary weights are damaged: not finite, or the bias is not one number."
        )
    return tensors, settings
