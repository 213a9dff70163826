"""The sizes and rates of the default tagging network, with their defaults.

These are the defaults of the `spacy_torch_tagger.LSTMNetwork.v1`
architecture; the architecture, the network and the README all take them from here.
"""

from dataclasses import dataclass

from .value_checks import check_bool, check_float, check_int

OWNER = "LSTMNetwork"


@dataclass(frozen=True)
class LSTMTaggerSettings:
    """embed_width: width of the word and hashed-attribute embeddings.
    char_embed_width: width of each character's embedding.
    char_width: filters of the character CNN; 0 turns it off.
    char_kernel_size: character window of the CNN (odd).
    hidden_width: LSTM hidden size per direction.
    depth: LSTM layers.
    bidirectional: read each sequence in both directions.
    word_dropout: in training, the share of known words replaced by the unknown-word row.
    """

    embed_width: int = 64
    char_embed_width: int = 32
    char_width: int = 64
    char_kernel_size: int = 3
    hidden_width: int = 256
    depth: int = 1
    bidirectional: bool = True
    word_dropout: float = 0.25

    def __post_init__(self) -> None:
        check_int(OWNER, "embed_width", self.embed_width, 1)
        check_int(OWNER, "char_embed_width", self.char_embed_width, 1)
        check_int(OWNER, "char_width", self.char_width, 0)
        check_int(OWNER, "char_kernel_size", self.char_kernel_size, 1)
        if self.char_kernel_size % 2 == 0:
            raise ValueError(
                f"{OWNER} char_kernel_size must be an odd integer >= 1, got {self.char_kernel_size}."
            )
        check_int(OWNER, "hidden_width", self.hidden_width, 1)
        check_int(OWNER, "depth", self.depth, 1)
        check_bool(OWNER, "bidirectional", self.bidirectional)
        check_float(OWNER, "word_dropout", self.word_dropout, 0.0, 1.0)
