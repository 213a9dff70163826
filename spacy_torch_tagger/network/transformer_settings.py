"""The settings of the transformer tagging network, with their defaults.

These are the defaults of the `spacy_torch_tagger.TransformerNetwork.v1`
architecture (besides its checkpoint and window keys).
"""

from dataclasses import dataclass

from .value_checks import check_bool, check_float, check_int, check_str

OWNER = "TransformerNetwork"
POOLINGS = ("mean", "first")


@dataclass(frozen=True)
class TransformerTaggerSettings:
    """pooling: how a token's vector is made from its pieces: "mean" or "first".
    mix_layers: a learned scalar mix of all hidden layers (and the embeddings);
        false takes the last layer.
    encoder_lr_scale: the encoder's learning rate as a share of the heads';
        0 freezes the encoder.
    embed_width: width of the known-word and hashed-feature embeddings beside
        the encoder (cased, where the encoder may be uncased); 0 turns them off.
    char_embed_width, char_width: the character CNN beside the encoder; char_width 0 turns it off.
    lstm_width: a BiLSTM of this width per direction over the token vectors; 0 for none.
    lstm_depth: its layers.
    word_dropout: in training, the share of known words replaced by the unknown-word row.
    """

    pooling: str = "mean"
    mix_layers: bool = True
    encoder_lr_scale: float = 0.05
    embed_width: int = 0
    char_embed_width: int = 32
    char_width: int = 0
    lstm_width: int = 0
    lstm_depth: int = 1
    word_dropout: float = 0.25

    def __post_init__(self) -> None:
        check_str(OWNER, "pooling", self.pooling, POOLINGS)
        check_bool(OWNER, "mix_layers", self.mix_layers)
        check_float(OWNER, "encoder_lr_scale", self.encoder_lr_scale, 0.0)
        check_int(OWNER, "embed_width", self.embed_width, 0)
        check_int(OWNER, "char_embed_width", self.char_embed_width, 1)
        check_int(OWNER, "char_width", self.char_width, 0)
        check_int(OWNER, "lstm_width", self.lstm_width, 0)
        check_int(OWNER, "lstm_depth", self.lstm_depth, 1)
        check_float(OWNER, "word_dropout", self.word_dropout, 0.0, 1.0)
