"""Registered architectures: the config surface of the model.

Each is declared as a `spacy_architectures` entry point under its registry
name, so configs resolve them without importing this package.
"""

from functools import partial
from typing import List

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from .feature_spec import FeatureSpec
from .featurize import attr_ids
from .network import LSTMTagger
from .tagger_model import NetworkBuilder, build_tagger_model


@registry.architectures("spacy_torch_tagger.TorchTagger.v1")
def build_torch_tagger(
    features: FeatureSpec,
    network: NetworkBuilder,
    mixed_precision: bool = False,
    int8_inference: bool = False,
) -> Model[List[Doc], List[Floats2d]]:
    """Docs -> per-doc logits of every target, from a torch network wrapped
    with thinc's PyTorchWrapper_v3.

    features: which hashed lexical features and characters the network reads.
    network: called as network(features, n_labels) once the labels are known;
        returns a torch.nn.Module whose forward(TaggerBatch) returns a dict
        target -> logits of shape (n_tokens, n_labels[target]).
    mixed_precision: autocast on CUDA; ignored with a warning without a GPU.
    int8_inference: on CPU, tag with an int8 copy of the LSTM and linear
        layers (torch dynamic quantization); training and GPU use float weights.
    """
    return build_tagger_model(features, network, mixed_precision, int8_inference)


@registry.architectures("spacy_torch_tagger.TokenFeatures.v1")
def build_token_features(
    vocab_attr: str = "NORM",
    vocab_rows: int = 20000,
    vocab_min_count: int = 2,
    attrs: List[str] = ["PREFIX", "SUFFIX", "SHAPE"],  # noqa: B006 (config default, never mutated)
    rows: List[int] = [2000, 5000, 1000],  # noqa: B006
    n_hashes: int = 2,
    max_chars: int = 16,
    char_rows: int = 1000,
) -> FeatureSpec:
    """Known words (a table built from the training docs at initialize),
    hashed lexical attributes, and the characters of each token."""
    attr_ids(list(attrs) + ([vocab_attr] if vocab_attr else []))
    return FeatureSpec(
        vocab_attr=vocab_attr.upper(),
        vocab_rows=vocab_rows,
        vocab_min_count=vocab_min_count,
        attrs=tuple(name.upper() for name in attrs),
        rows=tuple(rows),
        n_hashes=n_hashes,
        max_chars=max_chars,
        char_rows=char_rows,
    )


@registry.architectures("spacy_torch_tagger.LSTMNetwork.v1")
def build_lstm_network(
    embed_width: int = 64,
    char_embed_width: int = 32,
    char_width: int = 64,
    char_kernel_size: int = 3,
    hidden_width: int = 256,
    depth: int = 1,
    bidirectional: bool = True,
    word_dropout: float = 0.25,
) -> NetworkBuilder:
    """The default network: lexical embeddings + character CNN -> LSTM -> one
    linear head per target. char_width = 0 drops the character CNN; depth = 1,
    bidirectional = false gives the seed tutorial's embedding -> LSTM -> linear.
    Dropout between layers uses spaCy's rate ([training] dropout)."""
    return partial(
        LSTMTagger,
        embed_width=embed_width,
        char_embed_width=char_embed_width,
        char_width=char_width,
        char_kernel_size=char_kernel_size,
        hidden_width=hidden_width,
        depth=depth,
        bidirectional=bidirectional,
        word_dropout=word_dropout,
    )
