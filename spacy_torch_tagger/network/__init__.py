"""Plain PyTorch tagging networks; nothing here imports spaCy or thinc, or anything
of spacy_torch_tagger outside this folder."""

from .batch import TaggerBatch, WordPieces
from .char_cnn import CharCNN
from .contract import ChoosesWindows, MakesInt8Copy, NamesDropoutLayers, ReadsCheckpoint, ScalesLearningRates
from .feature_spec import FeatureSpec
from .lexical_embedding import LexicalEmbedding
from .lstm_settings import LSTMTaggerSettings
from .lstm_tagger import LSTMTagger
from .sequence_encoder import LSTMEncoder

__all__ = [
    "CharCNN",
    "ChoosesWindows",
    "FeatureSpec",
    "LSTMEncoder",
    "LSTMTagger",
    "LSTMTaggerSettings",
    "LexicalEmbedding",
    "MakesInt8Copy",
    "NamesDropoutLayers",
    "ReadsCheckpoint",
    "ScalesLearningRates",
    "TaggerBatch",
    "WordPieces",
]
