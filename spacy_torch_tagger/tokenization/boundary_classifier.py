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
MAX_ITERATIONS = 500


class BoundaryDataError(ModelFileError):
    """Saved tokenizer boundary data that is damaged or not ours."""


class BoundaryClassifier:
    """Weights per hashed feature row; a position is a boundary when the weights of its features
    plus the prior sum to more than zero. The prior, `base_prior` towards what the base tokenizer
    did there, is fixed and there is no free bias to cancel it: every weight is penalised, so
    only what the treebank shows often enough overrules the base.

    Until trained (or loaded trained) it decides nothing: `trained` is False and the
    tokenizer keeps its base tokens.
    """

    def __init__(self, bits: int, base_prior: float) -> None:
        if not 8 <= bits <= 26:
            raise ValueError(
                f"hash_bits must be between 8 and 26, not {bits}: 2**hash_bits feature rows are kept."
            )
        if not (base_prior >= 0 and numpy.isfinite(base_prior)):
            raise ValueError(f"base_prior must be a finite number >= 0, not {base_prior}.")
        self.bits = bits
        self.base_prior = float(base_prior)
        self.weights = numpy.zeros(0, dtype=numpy.float32)
        self.splittable: Set[str] = set()
        self.trained = False

    def score(self, ids: Sequence[int], base_split: bool) -> float:
        """The logit of a boundary at a position with these feature rows, where the base split or not."""
        prior = self.base_prior if base_split else -self.base_prior
        return float(self.weights[list(ids)].sum(dtype=numpy.float64)) + prior

    def fit(
        self,
        rows: List[List[int]],
        base_splits: List[bool],
        labels: List[bool],
        splittable: Iterable[str],
        l2: float,
    ) -> None:
        """Fit the weights to candidate rows (feature ids, rows of one length), whether the base
        split there, and whether each is a gold boundary: the log-loss summed over the rows plus
        `l2 / 2` times the squared weights, minimised by L-BFGS (a convex problem: no learning rate,
        epochs or shuffling). A pattern seen once cannot outweigh the prior; seen often, it does."""
        self.splittable = set(splittable)
        self.weights = numpy.zeros(1 << self.bits, dtype=numpy.float32)
        self.trained = bool(rows)
        if not rows:
            return
        used, compact = torch.unique(torch.tensor(rows, dtype=torch.long), return_inverse=True)
        targets = torch.tensor(labels, dtype=torch.float64)
        priors = torch.tensor(
            [self.base_prior if split else -self.base_prior for split in base_splits], dtype=torch.float64
        )
        weights = torch.zeros(len(used), dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([weights], max_iter=MAX_ITERATIONS, line_search_fn="strong_wolfe")

        def objective() -> torch.Tensor:
            optimizer.zero_grad()
            logits = weights[compact].sum(dim=1) + priors
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
            loss = loss + l2 / 2 * weights.pow(2).sum()
            loss.backward()
            return loss

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same sums in the same order on any machine: the same bytes
        try:
            optimizer.step(objective)
        finally:
            torch.set_num_threads(threads)
        self.weights[used.numpy()] = weights.detach().numpy().astype(numpy.float32)

    def to_bytes(self) -> bytes:
        """The non-zero weights and the splittable tokens as a safetensors file."""
        rows = numpy.flatnonzero(self.weights).astype(numpy.int64)
        tensors: Dict[str, numpy.ndarray] = {
            "rows": rows,
            "values": self.weights[rows].astype(numpy.float32),
        }
        settings = {
            "format": FORMAT,
            "version": VERSION,
            "bits": self.bits,
            "base_prior": self.base_prior,
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
        prior = settings["base_prior"]
        if prior != self.base_prior:
            raise BoundaryDataError(
                f"The saved tokenizer boundaries were trained with base_prior = {prior} but the config says "
                f"{self.base_prior}: set [nlp.tokenizer] base_prior = {prior}, or re-train."
            )
        rows, values = tensors["rows"], tensors["values"]
        weights = numpy.zeros(1 << bits, dtype=numpy.float32)
        weights[rows] = values
        self.weights = weights
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
    if described[0] != FORMAT or type(described[1]) is not int or described[1] != VERSION:
        raise BoundaryDataError(
            f"The tokenizer boundary file is not {FORMAT} version {VERSION} (it says {described[0]!r}, "
            f"version {described[1]!r}): restore the pipeline folder or re-train."
        )
    splittable = settings.get("splittable")
    if not (
        isinstance(settings.get("bits"), int)
        and 8 <= settings["bits"] <= 26
        and isinstance(settings.get("base_prior"), float)
        and numpy.isfinite(settings["base_prior"])
        and settings["base_prior"] >= 0
        and isinstance(settings.get("trained"), bool)
        and isinstance(splittable, list)
        and all(isinstance(item, str) for item in splittable)
    ):
        raise BoundaryDataError(
            "The tokenizer boundary file's metadata is damaged (bits, base_prior, trained or splittable)."
        )
    expected = {"rows": numpy.int64, "values": numpy.float32}
    for name, dtype in expected.items():
        if name not in tensors or tensors[name].dtype != dtype or tensors[name].ndim != 1:
            raise BoundaryDataError(
                f"The tokenizer boundary file lacks a 1-d {numpy.dtype(dtype).name} tensor '{name}'."
            )
    if not numpy.isfinite(tensors["values"]).all():
        raise BoundaryDataError("The tokenizer boundary weights are damaged: not all are finite.")
    rows = tensors["rows"]
    if len(rows) != len(tensors["values"]):
        raise BoundaryDataError("The tokenizer boundary weights are damaged: rows and values do not match.")
    if len(rows) and (rows.min() < 0 or rows.max() >= 1 << settings["bits"] or (numpy.diff(rows) <= 0).any()):
        raise BoundaryDataError(
            "The tokenizer boundary weights are damaged: rows must rise strictly, "
            f"from 0 to below 2**{settings['bits']}."
        )
    if rows.size and not settings["trained"]:
        raise BoundaryDataError("The tokenizer boundary file holds weights but says it was never trained.")
    return tensors, settings
