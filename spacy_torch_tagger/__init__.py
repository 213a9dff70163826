"""spacy-torch-tagger: a PyTorch tagging network as a spaCy pipeline component.

After `pip install`, `nlp.add_pipe("torch_tagger")` works without importing
this package: the factory, architectures and scorer are entry points.

Names are imported on first use, so `import spacy_torch_tagger.network` (the
torch networks) loads neither spaCy nor thinc.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "FeatureSpec": "feature_spec",
    "LSTMTagger": "network",
    "LSTMTaggerSettings": "network",
    "TaggerBatch": "network",
    "TorchTagger": "component",
    "build_lstm_network": "architectures",
    "build_token_features": "architectures",
    "build_torch_tagger": "architectures",
    "make_torch_tagger": "factory",
    "make_torch_tagger_scorer": "scorer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'spacy_torch_tagger' has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list:
    return __all__
