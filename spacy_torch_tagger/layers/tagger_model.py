"""The thinc model: Docs -> one (n_tokens, nO) score array per doc.

One thinc node whose shim (`TaggerShim`) holds the torch network. thinc has
no shape inference for torch modules, so the network is built once the label
counts are known: by `init` in training, and by the shim's `from_bytes` from the
label counts in its own bytes (thinc runs no `init` on load). The known-word
table built at `init` is an attribute of the node, saved with it.

A network builder with a `checkpoint_dir` (contract.ReadsCheckpoint, e.g.
TransformerNetworkBuilder) reads a pretrained checkpoint: `init` reads the
folder, the shim keeps its config and tokenizer (saved in its bytes), the
builder gets it as `checkpoint=`, and every batch carries the word pieces of
its tokens.
"""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import numpy
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats2d

from ..errors import ModelFileError
from ..network import FeatureSpec
from ..network.contract import ChoosesWindows, NamesDropoutLayers, NetworkBuilder, ReadsCheckpoint
from .checkpoint import Checkpoint
from .known_words import KnownWords
from .network_input import docs_to_batch
from .network_output import join_logits
from .shim import TaggerShim
from .storage.label_counts import LabelCounts
from .storage.legacy import upgrade_saved_layout


def build_tagger_model(
    features: FeatureSpec,
    network: NetworkBuilder,
    precision: str = "float32",
    int8_inference: bool = False,
) -> Model[List[Doc], List[Floats2d]]:
    """A thinc model around a network builder; the network is built once label counts are set.
    precision: "float32", "bfloat16" or "float16" (architectures.py checks it)."""
    shim = TaggerShim(
        network,
        features,
        mixed_precision=precision == "float16",
        bfloat16=precision == "bfloat16",
        int8_inference=int8_inference,
    )
    return Model(
        "torch_tagger",
        forward,
        init=init,
        shims=[shim],
        dims={"nO": None},
        attrs={
            "features": features,
            "known_words": KnownWords.from_docs([], features),
            "n_labels": LabelCounts(),
            "network_builder": network,
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
    """Record the label count of each target; `init` builds the network at them."""
    if not n_labels or any(n < 1 for n in n_labels.values()):
        raise ValueError(f"torch_tagger needs at least one label for every target, got {dict(n_labels)}.")
    counts = LabelCounts({target: int(n) for target, n in n_labels.items()})
    model.attrs["n_labels"] = counts
    model.set_dim("nO", sum(counts.values()), force=True)


def piece_windows(builder: NetworkBuilder, checkpoint: Checkpoint) -> Tuple[int, int]:
    """(window length, stride) from the builder's `windows(checkpoint)`, else the
    encoder's longest window, half of it apart."""
    if isinstance(builder, ChoosesWindows):
        return builder.windows(checkpoint)
    length = checkpoint.max_positions()
    return length, max(1, (length - 2) // 2)


def reads_checkpoint(model: Model) -> bool:
    """Whether the network builder starts from a pretrained checkpoint."""
    return tagger_shim(model).reads_checkpoint()


def checkpoint_of(model: Model) -> Checkpoint:
    """The checkpoint files the network was built on (after initialize or loading)."""
    checkpoint = tagger_shim(model).checkpoint
    if checkpoint is None:
        raise ValueError("The torch_tagger network's checkpoint was never loaded: initialize first.")
    return checkpoint


def init(model: Model, X: Optional[Sequence[Doc]] = None, Y: Optional[object] = None) -> None:  # noqa: N803 (thinc's init signature)
    """Build the known-word table from the docs X (the training docs), read the
    checkpoint if the network has one, and build a fresh network."""
    model.attrs["known_words"] = KnownWords.from_docs(X or [], model.attrs["features"])
    checkpoint = None
    builder = model.attrs["network_builder"]
    if isinstance(builder, ReadsCheckpoint):
        checkpoint = Checkpoint.from_dir(builder.checkpoint_dir)
    tagger_shim(model).build(label_counts(model), checkpoint)


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
        checkpoint = checkpoint_of(model)
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
    layers = network.dropout_layers() if isinstance(network, NamesDropoutLayers) else network.modules()
    for module in layers:
        if isinstance(module, torch.nn.Dropout):
            module.p = float(rate)


def no_gradient(d_scores: List[Floats2d]) -> List[Doc]:
    return []


def load_model(model: Model, data: bytes) -> None:
    """Load bytes written by `model.to_bytes()`, or by an earlier spacy-torch-tagger
    (storage/legacy.py upgrades its layout first), through thinc's `Model.from_dict`.
    Raises ModelFileError for data that is not such a model or is damaged.

    Bytes of the current layout load with `Model.from_bytes` alone; the message is
    decoded here once so that an old layout is upgraded before anything is set:
    trying `from_bytes` first would leave the old layout's attrs in the model when
    its shim refuses them (thinc's `from_dict` sets attrs before shims)."""
    try:
        message: Any = srsly.msgpack_loads(data)
    except ValueError as error:
        raise ModelFileError(f"it is not a saved torch_tagger model ({error})") from error
    message = upgrade_saved_layout(message)
    if not _is_model_message(message):
        raise ModelFileError("it is not a saved torch_tagger model (unexpected structure)")
    _take_saved_dims(model, _saved_dims(model, message))
    model.from_dict(message)
    built_for = tagger_shim(model).n_labels
    if built_for != label_counts(model):
        raise ModelFileError(
            f"its network was saved with label counts {built_for} but the model with {label_counts(model)}"
        )
    n_out = model.get_dim("nO") if model.has_dim("nO") is True else None
    if built_for and n_out != sum(built_for.values()):
        raise ModelFileError(f"its output width nO = {n_out} is not the sum of its label counts {built_for}")


def _saved_dims(model: Model, message: Dict[str, Any]) -> Dict[str, Optional[int]]:
    """The saved node's dims, checked: the model's own dim names, each unset or a
    positive count, and no refs (the model has none)."""
    node = message["nodes"][0]
    dims, refs = node.get("dims"), node.get("refs")
    if (
        not isinstance(dims, dict)
        or not set(dims) <= set(model.dim_names)
        or not all(value is None or (type(value) is int and value > 0) for value in dims.values())
        or refs != {}
    ):
        raise ModelFileError(f"its dims or refs are damaged (dims {dims!r}, refs {refs!r})")
    return dims


def _take_saved_dims(model: Model, dims: Dict[str, Optional[int]]) -> None:
    """Let the saved dims replace those already set (the model of an initialized
    component loading another pipeline's, with other labels): thinc's `from_dict`
    refuses to change a dim that is set."""
    for dim, value in dims.items():
        if value is not None and model.has_dim(dim) is True and model.get_dim(dim) != value:
            model.set_dim(dim, value, force=True)


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
        and isinstance(message["shims"][0][0], bytes)
    )
