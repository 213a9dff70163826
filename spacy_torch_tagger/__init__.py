"""spacy-torch-tagger: a PyTorch tagging network as a spaCy pipeline component.

After `pip install`, `nlp.add_pipe("torch_tagger")` works without importing
this package: the factory, architectures and scorer are entry points.
"""

from .architectures import build_lstm_network, build_token_features, build_torch_tagger
from .component import TorchTagger, make_torch_tagger
from .feature_spec import FeatureSpec
from .network import LSTMTagger, TaggerBatch
from .scorer import make_torch_tagger_scorer

__all__ = [
    "FeatureSpec",
    "LSTMTagger",
    "TaggerBatch",
    "TorchTagger",
    "build_token_features",
    "build_lstm_network",
    "build_torch_tagger",
    "make_torch_tagger",
    "make_torch_tagger_scorer",
]
