"""Plain PyTorch tagging networks; nothing here imports spaCy or thinc."""

from . import fork_safety  # noqa: F401  (registers the fork handler)
from .batch import TaggerBatch
from .char_cnn import CharCNN
from .lexical_embedding import LexicalEmbedding
from .lstm_tagger import LSTMTagger
from .sequence_encoder import LSTMEncoder

__all__ = ["CharCNN", "LSTMEncoder", "LSTMTagger", "LexicalEmbedding", "TaggerBatch"]
