"""spacy-torch-tagger: a PyTorch tagging network as a spaCy pipeline component.

After `pip install`, `nlp.add_pipe("torch_tagger")` works without importing
this package: the factory, architectures and scorer are entry points.

The package's rooms, each importing only those below it:
network/ (plain torch) <- layers/ (thinc) <- pipeline/ (the spaCy component)
<- calibration/ <- report/ <- cli/; annotate/ stands on layers/ alone, under cli/.
tokenization/ (spaCy tokenizers: the language's own for configs whose language is an override,
and one that learns the treebank's tokens) stands on errors alone.

Names are imported on first use, so `import spacy_torch_tagger.network` (the
torch networks) loads neither spaCy nor thinc.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # The network contract: what a network of your own receives, and may offer.
    "FeatureSpec": "network",
    "TaggerBatch": "network",
    "WordPieces": "network",
    "ChoosesWindows": "network.contract",
    "MakesInt8Copy": "network.contract",
    "NamesDropoutLayers": "network.contract",
    "NetworkBuilder": "network.contract",
    "ReadsCheckpoint": "network.contract",
    "ScalesLearningRates": "network.contract",
    # A pretrained checkpoint, as a builder that reads one receives it.
    "Checkpoint": "layers.checkpoint",
    "resolve_checkpoint_dir": "layers.checkpoint",
    # The default network.
    "LSTMTagger": "network",
    "LSTMTaggerSettings": "network",
    # The registered architectures, factory, component and scorer.
    "build_lstm_network": "layers.architectures",
    "build_token_features": "layers.architectures",
    "build_torch_tagger": "layers.architectures",
    "build_torch_tagger_v2": "layers.architectures",
    "build_transformer_network": "layers.architectures",
    "make_torch_tagger": "pipeline.factory",
    "TorchTagger": "pipeline.component",
    "make_torch_tagger_scorer": "pipeline.scorer",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names for type checkers and IDEs (which do not call __getattr__), re-exported
    from .layers.architectures import (
        build_lstm_network as build_lstm_network,
        build_token_features as build_token_features,
        build_torch_tagger as build_torch_tagger,
        build_torch_tagger_v2 as build_torch_tagger_v2,
        build_transformer_network as build_transformer_network,
    )
    from .layers.checkpoint import Checkpoint as Checkpoint, resolve_checkpoint_dir as resolve_checkpoint_dir
    from .network import (
        FeatureSpec as FeatureSpec,
        LSTMTagger as LSTMTagger,
        LSTMTaggerSettings as LSTMTaggerSettings,
        TaggerBatch as TaggerBatch,
        WordPieces as WordPieces,
    )
    from .network.contract import (
        ChoosesWindows as ChoosesWindows,
        MakesInt8Copy as MakesInt8Copy,
        NamesDropoutLayers as NamesDropoutLayers,
        NetworkBuilder as NetworkBuilder,
        ReadsCheckpoint as ReadsCheckpoint,
        ScalesLearningRates as ScalesLearningRates,
    )
    from .pipeline.component import TorchTagger as TorchTagger
    from .pipeline.factory import make_torch_tagger as make_torch_tagger
    from .pipeline.scorer import make_torch_tagger_scorer as make_torch_tagger_scorer


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is an error there

    def __getattr__(name: str) -> Any:
        if name not in _EXPORTS:
            raise AttributeError(f"module 'spacy_torch_tagger' has no attribute {name!r}")
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list:
    return __all__
