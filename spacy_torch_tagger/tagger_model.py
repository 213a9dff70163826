"""The thinc model: Docs -> one (n_tokens, nO) score array per doc.

One thinc node whose shim (`TaggerShim`) holds the torch network. thinc has
no shape inference for torch modules, so the network is built once the label
counts are known: by `init` in training, and from the saved label counts
before the weights load (thinc runs no `init` on load). The known-word table
built at `init` is an attribute of the node, saved with it.

A network builder with a `checkpoint_dir` (TransformerNetworkBuilder) reads a
pretrained checkpoint: `init` reads the folder, the node keeps its config and
tokenizer (attr "checkpoint", saved), the builder gets it as `checkpoint=`,
and every batch carries the word pieces of its tokens.
"""

import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import numpy
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, get_torch_default_device, torch2xp, xp2torch
from thinc.types import Floats2d

from .checkpoint import Checkpoint
from .convert import docs_to_batch, join_logits
from .errors import ModelFileError
from .feature_spec import FeatureSpec
from .known_words import KnownWords
from .legacy import upgrade_legacy_layout
from .shim import TaggerShim

# Called as builder(features, n_labels), or with checkpoint= when it has a checkpoint_dir.
NetworkBuilder = Callable[..., torch.nn.Module]


def build_tagger_model(
    features: FeatureSpec,
    network: NetworkBuilder,
    mixed_precision: bool = False,
    int8_inference: bool = False,
    bfloat16: bool = False,
) -> Model[List[Doc], List[Floats2d]]:
    """A thinc model around a network builder; the network is built once label counts are set."""
    shim = TaggerShim(None, mixed_precision=mixed_precision, bfloat16=bfloat16, int8_inference=int8_inference)
    return Model(
        "torch_tagger",
        forward,
        init=init,
        shims=[shim],
        dims={"nO": None},
        attrs={
            "features": features,
            "known_words": KnownWords.from_docs([], features),
            "n_labels": {},
            "network_builder": network,
            "checkpoint": None,
            "dropout_rate": None,
        },
    )


def tagger_shim(model: Model) -> TaggerShim:
    return cast(TaggerShim, model.shims[0])


def network_of(model: Model) -> Optional[torch.nn.Module]:
    """The torch network inside the model, or None before it is built."""
    return tagger_shim(model).network


def label_counts(model: Model) -> Dict[str, int]:
    """The label count per target ({} before labels are set)."""
    return dict(model.attrs["n_labels"])


def set_label_counts(model: Model, n_labels: Mapping[str, int]) -> None:
    """Record the label count of each target; `build_network` sizes the heads from them."""
    if not n_labels or any(n < 1 for n in n_labels.values()):
        raise ValueError(f"torch_tagger needs at least one label for every target, got {dict(n_labels)}.")
    counts = {target: int(n) for target, n in n_labels.items()}
    model.attrs["n_labels"] = counts
    model.set_dim("nO", sum(counts.values()), force=True)


def build_network(model: Model) -> None:
    """Build a fresh torch network at the recorded label counts and install it."""
    counts = label_counts(model)
    if not counts:
        raise ValueError(
            "The torch_tagger network cannot be built before its label counts are known: "
            "add labels or initialize the component with examples."
        )
    builder: NetworkBuilder = model.attrs["network_builder"]
    if reads_checkpoint(model):
        if model.attrs["checkpoint"] is None:
            raise ValueError(
                "The torch_tagger network reads a checkpoint that was never loaded: initialize first."
            )
        network = builder(model.attrs["features"], dict(counts), checkpoint=model.attrs["checkpoint"])
    else:
        network = builder(model.attrs["features"], dict(counts))
    if not isinstance(network, torch.nn.Module):
        raise TypeError(
            f"The torch_tagger network builder returned {type(network).__name__}, expected a torch.nn.Module."
        )
    tagger_shim(model).network = network.to(get_torch_default_device())


def piece_windows(builder: NetworkBuilder, checkpoint: Checkpoint) -> Tuple[int, int]:
    """(window length, stride) from the builder's `windows(checkpoint)`, else the
    encoder's longest window, half of it apart."""
    if hasattr(builder, "windows"):
        return builder.windows(checkpoint)
    length = checkpoint.max_positions()
    return length, max(1, (length - 2) // 2)


def reads_checkpoint(model: Model) -> bool:
    """Whether the network builder starts from a pretrained checkpoint."""
    # Static lookup: evaluating the attribute would resolve the checkpoint, which a
    # loaded pipeline does not need (its package or folder may be absent there).
    return inspect.getattr_static(model.attrs["network_builder"], "checkpoint_dir", None) is not None


def checkpoint_of(model: Model) -> Checkpoint:
    """The checkpoint files the model keeps (after initialize or loading)."""
    checkpoint = model.attrs.get("checkpoint")
    if not isinstance(checkpoint, Checkpoint):
        raise ValueError("The torch_tagger network's checkpoint was never loaded: initialize first.")
    return checkpoint


def init(model: Model, X: Optional[Sequence[Doc]] = None, Y: Optional[object] = None) -> None:  # noqa: N803 (thinc's init signature)
    """Build the known-word table from the docs X (the training docs), read the
    checkpoint if the network has one, and build a fresh network."""
    model.attrs["known_words"] = KnownWords.from_docs(X or [], model.attrs["features"])
    if reads_checkpoint(model):
        model.attrs["checkpoint"] = Checkpoint.from_dir(model.attrs["network_builder"].checkpoint_dir)
    build_network(model)


def forward(model: Model, docs: Sequence[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    shim = tagger_shim(model)
    network = shim.network
    if network is None:
        raise ValueError(
            "The torch_tagger network has not been built: initialize the pipeline "
            "(nlp.initialize() or spacy train) or load a trained one."
        )
    lengths = [len(doc) for doc in docs]
    if not sum(lengths):
        n_out = model.get_dim("nO")
        return [model.ops.alloc2f(n, n_out) for n in lengths], no_gradient
    if is_train:
        apply_dropout_rate(network, model.attrs["dropout_rate"])
    pieces = None
    if reads_checkpoint(model):
        checkpoint: Checkpoint = model.attrs["checkpoint"]
        pieces = (checkpoint, *piece_windows(model.attrs["network_builder"], checkpoint))
    batch = docs_to_batch(docs, model.attrs["features"], model.attrs["known_words"], shim.device, pieces)
    logits, backprop_network = shim(ArgsKwargs(args=(batch,), kwargs={}), is_train)
    joined = join_logits(logits, model.attrs["n_labels"], sum(lengths))
    scores = torch2xp(joined, ops=model.ops)
    doc_scores = cast(List[Floats2d], model.ops.xp.split(scores, numpy.cumsum(lengths)[:-1].tolist()))

    def backprop(d_doc_scores: List[Floats2d]) -> List[Doc]:
        d_joined = xp2torch(model.ops.xp.concatenate(d_doc_scores), device=joined.device)
        backprop_network(ArgsKwargs(args=((joined,),), kwargs={"grad_tensors": (d_joined,)}))
        return []

    return doc_scores, backprop


def apply_dropout_rate(network: torch.nn.Module, rate: Optional[float]) -> None:
    """Give every torch.nn.Dropout of the network spaCy's current dropout rate
    (set by `nlp.update(drop=...)` / `[training] dropout`)."""
    if rate is None:
        return
    # A network may name the layers the rate is for (TransformerTagger keeps its encoder's own).
    named = getattr(network, "dropout_layers", None)
    layers = named() if callable(named) else network.modules()
    for module in layers:
        if isinstance(module, torch.nn.Dropout):
            module.p = float(rate)


def no_gradient(d_scores: List[Floats2d]) -> List[Doc]:
    return []


def load_model(model: Model, data: bytes) -> None:
    """Load bytes written by `model.to_bytes()` (or by spacy-torch-tagger 0.1.0):
    build the network at the saved label counts, then load every part.
    Raises ModelFileError for data that is not such a model or is damaged."""
    try:
        message: Any = srsly.msgpack_loads(data)
    except ValueError as error:
        raise ModelFileError(f"it is not a saved torch_tagger model ({error})") from error
    message = upgrade_legacy_layout(message)
    if not _is_model_message(message):
        raise ModelFileError("it is not a saved torch_tagger model (unexpected structure)")
    attrs = message["attrs"][0]
    try:
        counts = srsly.msgpack_loads(attrs["n_labels"]) if "n_labels" in attrs else {}
    except ValueError as error:
        raise ModelFileError(f"its label counts are damaged ({error})") from error
    if not isinstance(counts, dict) or not all(isinstance(n, int) and n > 0 for n in counts.values()):
        raise ModelFileError(f"its label counts are damaged (found {counts!r})")
    if attrs.get("checkpoint", _NONE) != _NONE:
        model.attrs["checkpoint"] = Checkpoint.from_bytes(attrs["checkpoint"])
    if counts:
        set_label_counts(model, counts)
        build_network(model)
    model.from_dict(message)


_NONE = srsly.msgpack_dumps(None)


def _is_model_message(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and all(isinstance(message.get(key), list) for key in ("nodes", "attrs", "params", "shims"))
        and len(message["nodes"]) == len(message["attrs"]) == len(message["shims"]) == 1
        and isinstance(message["nodes"][0], dict)
        and message["nodes"][0].get("name") == "torch_tagger"
        and isinstance(message["attrs"][0], dict)
        and all(isinstance(value, bytes) for value in message["attrs"][0].values())
        and isinstance(message["shims"][0], list)
        and len(message["shims"][0]) == 1
    )
