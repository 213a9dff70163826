"""Plain PyTorch tagging networks; nothing here imports spaCy or thinc."""

from .batch import TaggerBatch, WordPieces
from .char_cnn import CharCNN
from .lexical_embedding import LexicalEmbedding
from .lstm_settings import LSTMTaggerSettings
from .lstm_tagger import LSTMTagger
from .sequence_encoder import LSTMEncoder

__all__ = [
    "CharCNN",
    "LSTMEncoder",
    "LSTMTagger",
    "LSTMTaggerSettings",
    "LexicalEmbedding",
    "TaggerBatch",
    "WordPieces",
]
