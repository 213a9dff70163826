"""Converters between spaCy Docs / thinc arrays and the torch network.

These are the `convert_inputs` / `convert_outputs` of thinc's
`PyTorchWrapper_v3`. They live at module level (no closures) so that a
pipeline can be pickled for `nlp.pipe(n_process=...)`.
"""

from typing import Callable, Dict, List, Sequence, Tuple, cast

import numpy
import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.shims import PyTorchShim
from thinc.types import Floats2d

from .feature_spec import FeatureSpec
from .featurize import featurize
from .network import TaggerBatch


def docs_to_batch(model: Model, docs: Sequence[Doc], is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    """Featurize docs (numpy) and move the arrays to the network's device.

    Unlike thinc's default converter this never asks for gradients on the
    inputs: they are integer ids.
    """
    arrays = featurize(docs, cast(FeatureSpec, model.attrs["features"]), model.attrs["vocab"])
    device = cast(PyTorchShim, model.shims[0]).device
    batch = TaggerBatch(
        lengths=torch.from_numpy(sequence_lengths(docs)),
        words=torch.from_numpy(arrays.words).to(device),
        lexical=torch.from_numpy(arrays.lexical).to(device),
        chars=torch.from_numpy(arrays.chars).to(device),
        token_types=torch.from_numpy(arrays.token_types).to(device),
    )
    return ArgsKwargs(args=(batch,), kwargs={}), no_input_gradient


def sequence_lengths(docs: Sequence[Doc]) -> numpy.ndarray:
    """Token counts of the sequences the network reads, in token order: each
    sentence of a doc with sentence boundaries (from a sentencizer, senter or
    parser), else the whole doc. Empty docs give no sequence."""
    lengths: List[int] = []
    for doc in docs:
        if len(doc) and doc.has_annotation("SENT_START"):
            lengths.extend(len(sent) for sent in doc.sents)
        elif len(doc):
            lengths.append(len(doc))
    return numpy.array(lengths, dtype="int64")


def no_input_gradient(d_inputs: ArgsKwargs) -> List[Doc]:
    """Docs have no gradient; the backward pass ends at the network."""
    return []


def logits_to_doc_scores(
    model: Model, docs_and_logits: Tuple[Sequence[Doc], Dict[str, torch.Tensor]], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    """Concatenate the per-target logits column-wise (in `n_labels` order) and
    split them into one (n_tokens, nO) array per doc."""
    docs, logits = docs_and_logits
    n_labels: Dict[str, int] = model.attrs["n_labels"]
    n_tokens = sum(len(doc) for doc in docs)
    check_network_output(logits, n_labels, n_tokens)
    joined = torch.cat([logits[target] for target in n_labels], dim=1).float()
    scores = torch2xp(joined, ops=model.ops)
    ends = numpy.cumsum([len(doc) for doc in docs])[:-1]
    doc_scores = cast(List[Floats2d], model.ops.xp.split(scores, ends))

    def backprop(d_doc_scores: List[Floats2d]) -> ArgsKwargs:
        d_joined = xp2torch(model.ops.xp.concatenate(d_doc_scores), device=joined.device)
        return ArgsKwargs(args=((joined,),), kwargs={"grad_tensors": (d_joined,)})

    return doc_scores, backprop


def check_network_output(logits: object, n_labels: Dict[str, int], n_tokens: int) -> None:
    """Raise a clear error when a network breaks the output contract."""
    if not isinstance(logits, dict) or set(logits) != set(n_labels):
        found = sorted(logits) if isinstance(logits, dict) else type(logits).__name__
        raise ValueError(
            f"The tagging network must return a dict of logits with one entry per target "
            f"{list(n_labels)}, but returned {found}."
        )
    for target, n in n_labels.items():
        shape = tuple(logits[target].shape)
        if shape != (n_tokens, n):
            raise ValueError(
                f"The tagging network returned logits of shape {shape} for target '{target}', "
                f"expected (n_tokens, n_labels) = {(n_tokens, n)}."
            )
