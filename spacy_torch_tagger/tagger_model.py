"""The thinc model: Docs -> one (n_tokens, nO) score array per doc.

It holds a `PyTorchWrapper_v3` whose torch network is built once the label
counts are known: in `initialize` during training, and from the component's
saved labels before weights are loaded (thinc never runs `init` on load).
The known-word table built at `initialize` is a wrapper attribute, saved and
loaded with the model.
"""

import warnings
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import torch
from spacy.tokens import Doc
from thinc.api import Model, PyTorchWrapper_v3, get_torch_default_device
from thinc.shims import PyTorchShim
from thinc.types import Floats2d

from .convert import docs_to_batch, logits_to_doc_scores
from .feature_spec import FeatureSpec
from .featurize import build_vocab
from .serialize import deserialize_network, serialize_network
from .shim import TaggerShim

NetworkBuilder = Callable[[FeatureSpec, Dict[str, int]], torch.nn.Module]


def build_tagger_model(
    features: FeatureSpec,
    network: NetworkBuilder,
    mixed_precision: bool = False,
    int8_inference: bool = False,
) -> Model[List[Doc], List[Floats2d]]:
    """Wrap a network builder; the network is built once label counts are set."""
    if mixed_precision and not torch.cuda.is_available():
        warnings.warn(
            "torch_tagger: mixed_precision = true needs a CUDA GPU; none is available, "
            "so the network runs in full precision.",
            stacklevel=2,
        )
        mixed_precision = False
    wrapper = PyTorchWrapper_v3(
        None,  # type: ignore[arg-type]  # the network is built at initialize, once labels are known
        convert_inputs=docs_to_batch,
        convert_outputs=logits_to_doc_scores,
        mixed_precision=mixed_precision,
        serialize_model=serialize_network,
        deserialize_model=deserialize_network,
    )
    # Same settings, our shim class: in-place updates, averages, int8 inference (see shim.py).
    wrapper.shims[0] = TaggerShim(
        None,
        int8_inference=int8_inference,
        mixed_precision=mixed_precision,
        serialize_model=serialize_network,
        deserialize_model=deserialize_network,
    )
    wrapper.attrs["features"] = features
    wrapper.attrs["vocab"] = build_vocab([], features)
    wrapper.attrs["n_labels"] = {}
    return Model(
        "torch_tagger",
        forward,
        init=init,
        layers=[wrapper],
        dims={"nO": None},
        attrs={"network_builder": network, "dropout_rate": None},
    )


def set_label_counts(model: Model, n_labels: Mapping[str, int]) -> None:
    """Record the label count of each target; `build_network` sizes the heads from them."""
    if not n_labels or any(n < 1 for n in n_labels.values()):
        raise ValueError(f"torch_tagger needs at least one label for every target, got {dict(n_labels)}.")
    counts = {target: int(n) for target, n in n_labels.items()}
    model.layers[0].attrs["n_labels"] = counts
    model.set_dim("nO", sum(counts.values()), force=True)


def build_network(model: Model) -> None:
    """Build a fresh torch network at the recorded label counts and install it."""
    counts = label_counts(model)
    if not counts:
        raise ValueError(
            "The torch_tagger network cannot be built before its label counts are known: "
            "add labels or initialize the component with examples."
        )
    wrapper = model.layers[0]
    builder: NetworkBuilder = model.attrs["network_builder"]
    network = builder(wrapper.attrs["features"], dict(counts))
    if not isinstance(network, torch.nn.Module):
        raise TypeError(
            f"The torch_tagger network builder returned {type(network).__name__}, expected a torch.nn.Module."
        )
    shim = cast(PyTorchShim, wrapper.shims[0])
    # thinc's PyTorchWrapper has no init hook, so the built network replaces the
    # shim's placeholder; the shim reads `_model` in every call.
    shim._model = network.to(get_torch_default_device())


def label_counts(model: Model) -> Dict[str, int]:
    """The label count per target ({} before labels are set)."""
    return dict(model.layers[0].attrs["n_labels"])


def network_of(model: Model) -> Optional[torch.nn.Module]:
    """The torch network inside the model, or None before it is built."""
    return cast(PyTorchShim, model.layers[0].shims[0])._model


def init(model: Model, X: Optional[Sequence[Doc]] = None, Y: Optional[object] = None) -> None:  # noqa: N803 (thinc's init signature)
    """Build the known-word table from the docs X (the training docs) and a fresh network."""
    wrapper = model.layers[0]
    wrapper.attrs["vocab"] = build_vocab(X or [], wrapper.attrs["features"])
    build_network(model)


def forward(model: Model, docs: Sequence[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    if network_of(model) is None:
        raise ValueError(
            "The torch_tagger network has not been built: initialize the pipeline "
            "(nlp.initialize() or spacy train) or load a trained one."
        )
    if not any(len(doc) for doc in docs):
        n_out = model.get_dim("nO")
        return [model.ops.alloc2f(len(doc), n_out) for doc in docs], no_gradient
    network = network_of(model)
    if is_train and network is not None:
        apply_dropout_rate(network, model.attrs["dropout_rate"])
    return model.layers[0](docs, is_train)


def apply_dropout_rate(network: torch.nn.Module, rate: Optional[float]) -> None:
    """Give every torch.nn.Dropout of the network spaCy's current dropout rate
    (set by `nlp.update(drop=...)` / `[training] dropout`)."""
    if rate is None:
        return
    for module in network.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = float(rate)


def no_gradient(d_scores: List[Floats2d]) -> List[Doc]:
    return []
