"""Per-token probabilities of the network's labels, as Token extensions.

- `token._.torch_tagger_probs`: {target: probability of the network's label}
- `token._.torch_tagger_top_k`: {target: {label: probability}}, the k most
  probable labels in order, most probable first (the first is the network's label)

Both are None on tokens that no torch_tagger with `probabilities` / `top_k` has
seen. The values are stored per token in `doc.user_data` (spaCy's storage of
extension attributes with a default), as dicts of strings and floats (no
lists: msgpack gives those back as tuples or lists depending on the path), so
they travel unchanged with `Doc.to_bytes`, `DocBin(store_user_data=True)` and
`nlp.pipe(n_process=...)`.

Probabilities are softmax(logits / T) with the target's calibration
temperature T (1.0 until calibrated, see calibration/). They describe the
network's prediction: where the component keeps an existing value
(`overwrite = false`), the token's attribute may differ from the labels here.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy
from spacy.attrs import IDX
from spacy.tokens import Doc, Token

from ..layers.network_output import split_columns
from .temperatures import softmax

PROBS_EXTENSION = "torch_tagger_probs"
TOP_K_EXTENSION = "torch_tagger_top_k"


def register_extensions() -> None:
    """Register the two Token extensions, stored per token (`default=None`), once."""
    for name in (PROBS_EXTENSION, TOP_K_EXTENSION):
        if not Token.has_extension(name):
            Token.set_extension(name, default=None)


def check_extensions() -> None:
    """Raise if other code registered one of the extensions with a getter, setter or
    method: values written to `doc.user_data` would not be what it returns."""
    for name in (PROBS_EXTENSION, TOP_K_EXTENSION):
        if any(Token.get_extension(name)[1:]):  # (default, method, getter, setter)
            raise ValueError(
                f"Token extension {name!r} is registered with a method, getter or setter by "
                "other code; torch_tagger stores its probabilities there. Remove that extension "
                "or set probabilities = false and top_k = 0."
            )


@dataclass
class TargetProbabilities:
    """One doc's probabilities for one target.

    best: (n_tokens,) probability of the network's label (the argmax).
    top_indices: (n_tokens, k) label indices, most probable first; k may be 0.
    top_probs: (n_tokens, k) their probabilities.
    """

    best: numpy.ndarray
    top_indices: numpy.ndarray
    top_probs: numpy.ndarray


def target_probabilities(logits: numpy.ndarray, temperature: float, top_k: int) -> TargetProbabilities:
    """Probabilities of one target's (n_tokens, n_labels) logits.

    The order comes from the logits (T > 0 keeps it), with ties to the lower
    index as `argmax` breaks them, so the first of the top k is the predicted label.
    """
    logits = numpy.asarray(logits, dtype="float32")
    probs = softmax(logits, temperature)
    rows = numpy.arange(len(logits))
    best = probs[rows, logits.argmax(axis=1)] if len(logits) else numpy.zeros((0,), dtype="float32")
    k = min(top_k, logits.shape[1])
    if k == 0:
        top_indices = numpy.zeros((len(logits), 0), dtype="int64")
    else:
        top_indices = numpy.argsort(-logits, axis=1, kind="stable")[:, :k]
    top_probs = numpy.take_along_axis(probs, top_indices, axis=1)
    return TargetProbabilities(best=best, top_indices=top_indices, top_probs=top_probs)


def write_probabilities(
    doc: Doc,
    probabilities: Dict[str, TargetProbabilities],
    labels: Dict[str, List[str]],
    *,
    best: bool,
    top_k: bool,
) -> None:
    """Set the extensions of each token of `doc` (`best`: the probs one, `top_k`: the top-k one).

    Writes `doc.user_data` directly, under the keys `token._.set` uses
    (("._.", name, token.idx, None)): the same values, without a Token and an
    Underscore object per token and extension.
    """
    starts = doc.to_array(IDX).tolist()
    user_data: Dict[Any, Any] = doc.user_data  # typed Dict[str, Any] by spaCy; extensions use tuple keys
    if best:
        columns = {target: p.best.tolist() for target, p in probabilities.items()}
        for i, start in enumerate(starts):
            user_data[("._.", PROBS_EXTENSION, start, None)] = {t: column[i] for t, column in columns.items()}
    if top_k:
        ranked = {
            target: (p.top_indices.tolist(), p.top_probs.tolist(), labels[target])
            for target, p in probabilities.items()
        }
        for i, start in enumerate(starts):
            user_data[("._.", TOP_K_EXTENSION, start, None)] = {
                t: {names[j]: q for j, q in zip(indices[i], probs[i], strict=True)}
                for t, (indices, probs, names) in ranked.items()
            }


def batch_probabilities(
    scores: Sequence[numpy.ndarray], labels: Dict[str, List[str]], temperatures: Dict[str, float], top_k: int
) -> List[Dict[str, TargetProbabilities]]:
    """One {target: TargetProbabilities} per doc, from each doc's (n_tokens, nO)
    logits (the targets' columns side by side, in `labels` order). Computed on the
    whole batch at once: per-doc numpy calls cost more than the arithmetic."""
    lengths = [len(doc_scores) for doc_scores in scores]
    offsets = numpy.cumsum([0, *lengths]).tolist()
    n_columns = sum(len(names) for names in labels.values())
    stacked: Any = numpy.concatenate(scores) if scores else numpy.zeros((0, n_columns), dtype="float32")
    per_doc: List[Dict[str, TargetProbabilities]] = [{} for _ in scores]
    for target, logits in split_columns(stacked, labels):
        whole = target_probabilities(numpy.asarray(logits), temperatures.get(target, 1.0), top_k)
        for d, (start, end) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
            per_doc[d][target] = TargetProbabilities(
                best=whole.best[start:end],
                top_indices=whole.top_indices[start:end],
                top_probs=whole.top_probs[start:end],
            )
    return per_doc


register_extensions()
