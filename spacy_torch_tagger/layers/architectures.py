"""Registered architectures: the config surface of the model.

Each is declared as a `spacy_architectures` entry point under its registry
name, so configs resolve them without importing this package. Defaults come
from `FeatureSpec` and `LSTMTaggerSettings`; every value is checked when the
config is resolved, so `spacy debug config` reports a bad one. The network
architectures record their name and settings on the builder they return
(builder_config.py): the saved network keeps them and loading checks the config
against them.
"""

from functools import partial
from typing import List

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..network import FeatureSpec, LSTMTagger, LSTMTaggerSettings
from ..network.contract import NetworkBuilder
from ..network.transformer_settings import TransformerTaggerSettings
from ..network.value_checks import check_bool, check_int, check_str
from .builder_config import network_architecture
from .checkpoint import require_transformers
from .featurize import attr_ids
from .tagger_model import build_tagger_model
from .transformer_builder import TransformerNetworkBuilder

PRECISIONS = ("float32", "bfloat16", "float16")
FEATURE_DEFAULTS = FeatureSpec()
NETWORK_DEFAULTS = LSTMTaggerSettings()
TRANSFORMER_DEFAULTS = TransformerTaggerSettings()


@registry.architectures("spacy_torch_tagger.TorchTagger.v2")
def build_torch_tagger_v2(
    features: FeatureSpec,
    network: NetworkBuilder,
    int8_inference: bool = False,
    precision: str = "float32",
) -> Model[List[Doc], List[Floats2d]]:
    """Docs -> per-doc logits of every target, from a torch network held by a thinc model.

    features: which hashed lexical features and characters the network reads.
    network: called as network(features, n_labels) once the labels are known;
        returns a torch.nn.Module whose forward(TaggerBatch) returns a dict
        target -> logits of shape (n_tokens, n_labels[target]).
    int8_inference: on CPU, tag with an int8 copy of the LSTM and linear
        layers whose input scales never depend on the batch (network/int8.py);
        training and GPU use float weights.
    precision: "float32"; "bfloat16" (autocast on CPU or CUDA, no gradient
        scaling); "float16" (CUDA autocast with gradient scaling, float32 with a
        warning without CUDA).
    """
    if not isinstance(features, FeatureSpec):
        raise ValueError(
            "TorchTagger features must be a spacy_torch_tagger.TokenFeatures architecture, "
            f"got {type(features).__name__}."
        )
    if not callable(network):
        raise ValueError(f"TorchTagger network must be a network builder, got {type(network).__name__}.")
    check_bool("TorchTagger", "int8_inference", int8_inference)
    check_str("TorchTagger", "precision", precision, PRECISIONS)
    return build_tagger_model(features, network, precision, int8_inference)


@registry.architectures("spacy_torch_tagger.TorchTagger.v1")
def build_torch_tagger(
    features: FeatureSpec,
    network: NetworkBuilder,
    mixed_precision: bool = False,
    int8_inference: bool = False,
    precision: str = "float32",
) -> Model[List[Doc], List[Floats2d]]:
    """TorchTagger.v2 with `mixed_precision` beside `precision`, kept for configs
    written before v2: `mixed_precision = true` is `precision = "float16"`."""
    check_bool("TorchTagger", "mixed_precision", mixed_precision)
    if mixed_precision and precision == "bfloat16":
        raise ValueError(
            "TorchTagger mixed_precision = true means float16 on CUDA; it cannot go with "
            'precision = "bfloat16". Set one of them (TorchTagger.v2 has precision only).'
        )
    return build_torch_tagger_v2(
        features, network, int8_inference, "float16" if mixed_precision else precision
    )


@registry.architectures("spacy_torch_tagger.TokenFeatures.v1")
def build_token_features(
    vocab_attr: str = FEATURE_DEFAULTS.vocab_attr,
    vocab_rows: int = FEATURE_DEFAULTS.vocab_rows,
    vocab_min_count: int = FEATURE_DEFAULTS.vocab_min_count,
    attrs: List[str] = list(FEATURE_DEFAULTS.attrs),  # noqa: B006, B008 (config default, never mutated)
    rows: List[int] = list(FEATURE_DEFAULTS.rows),  # noqa: B006, B008
    n_hashes: int = FEATURE_DEFAULTS.n_hashes,
    max_chars: int = FEATURE_DEFAULTS.max_chars,
    char_rows: int = FEATURE_DEFAULTS.char_rows,
) -> FeatureSpec:
    """Known words (a table built from the training docs at initialize),
    hashed lexical attributes, and the characters of each token."""
    if not isinstance(attrs, (list, tuple)) or not isinstance(rows, (list, tuple)):
        raise ValueError(
            f'TokenFeatures attrs and rows must be lists (e.g. attrs = ["SUFFIX"], rows = [5000]), '
            f"got {attrs!r} and {rows!r}."
        )
    attr_ids(list(attrs) + ([vocab_attr] if isinstance(vocab_attr, str) and vocab_attr else []))
    return FeatureSpec(
        vocab_attr=vocab_attr.upper() if isinstance(vocab_attr, str) else vocab_attr,
        vocab_rows=vocab_rows,
        vocab_min_count=vocab_min_count,
        attrs=tuple(name.upper() for name in attrs),
        rows=tuple(rows),
        n_hashes=n_hashes,
        max_chars=max_chars,
        char_rows=char_rows,
    )


@network_architecture("spacy_torch_tagger.LSTMNetwork.v1", free=("word_dropout",))
def build_lstm_network(
    embed_width: int = NETWORK_DEFAULTS.embed_width,
    char_embed_width: int = NETWORK_DEFAULTS.char_embed_width,
    char_width: int = NETWORK_DEFAULTS.char_width,
    char_kernel_size: int = NETWORK_DEFAULTS.char_kernel_size,
    hidden_width: int = NETWORK_DEFAULTS.hidden_width,
    depth: int = NETWORK_DEFAULTS.depth,
    bidirectional: bool = NETWORK_DEFAULTS.bidirectional,
    word_dropout: float = NETWORK_DEFAULTS.word_dropout,
) -> NetworkBuilder:
    """The default network: lexical embeddings + character CNN -> LSTM -> one
    linear head per target. char_width = 0 drops the character CNN; depth = 1,
    bidirectional = false gives the seed tutorial's embedding -> LSTM -> linear.
    Dropout between layers uses spaCy's rate ([training] dropout)."""
    settings = LSTMTaggerSettings(
        embed_width=embed_width,
        char_embed_width=char_embed_width,
        char_width=char_width,
        char_kernel_size=char_kernel_size,
        hidden_width=hidden_width,
        depth=depth,
        bidirectional=bidirectional,
        word_dropout=word_dropout,
    )
    return partial(LSTMTagger, settings=settings)


@network_architecture(
    "spacy_torch_tagger.TransformerNetwork.v1",
    # The checkpoint's files are saved with the network; windows and pooling read them.
    free=("checkpoint", "window_length", "stride", "pooling", "encoder_lr_scale", "word_dropout"),
)
def build_transformer_network(
    checkpoint: str,
    window_length: int = 0,
    stride: int = 0,
    pooling: str = TRANSFORMER_DEFAULTS.pooling,
    mix_layers: bool = TRANSFORMER_DEFAULTS.mix_layers,
    encoder_lr_scale: float = TRANSFORMER_DEFAULTS.encoder_lr_scale,
    embed_width: int = TRANSFORMER_DEFAULTS.embed_width,
    char_embed_width: int = TRANSFORMER_DEFAULTS.char_embed_width,
    char_width: int = TRANSFORMER_DEFAULTS.char_width,
    lstm_width: int = TRANSFORMER_DEFAULTS.lstm_width,
    lstm_depth: int = TRANSFORMER_DEFAULTS.lstm_depth,
    word_dropout: float = TRANSFORMER_DEFAULTS.word_dropout,
) -> NetworkBuilder:
    """A pretrained encoder (a Hugging Face checkpoint folder, or an installed package
    with get_model_path()) fine-tuned with heads on top. Reads the checkpoint's word
    pieces in windows of `window_length` positions (0: the encoder's maximum),
    `stride` pieces apart (0: half a window). Needs the `transformers` extra."""
    if not isinstance(checkpoint, str) or not checkpoint:
        raise ValueError(
            f"TransformerNetwork checkpoint must be a folder or package name, got {checkpoint!r}."
        )
    check_int("TransformerNetwork", "window_length (0: the encoder's maximum)", window_length, 0)
    if 0 < window_length < 3:
        raise ValueError(f"TransformerNetwork window_length must be 0 or >= 3, got {window_length}.")
    check_int("TransformerNetwork", "stride (0: half a window)", stride, 0)
    require_transformers()
    settings = TransformerTaggerSettings(
        pooling=pooling,
        mix_layers=mix_layers,
        encoder_lr_scale=encoder_lr_scale,
        embed_width=embed_width,
        char_embed_width=char_embed_width,
        char_width=char_width,
        lstm_width=lstm_width,
        lstm_depth=lstm_depth,
        word_dropout=word_dropout,
    )
    return TransformerNetworkBuilder(checkpoint, settings, window_length, stride)
