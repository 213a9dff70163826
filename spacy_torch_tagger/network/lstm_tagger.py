"""The default tagging network: word and hashed lexical embeddings and a character CNN,
a (bi)LSTM over each sequence, and one linear head per target returning logits."""

from typing import Dict, Mapping, Optional

import torch
from torch import nn

from .batch import TaggerBatch
from .char_cnn import CharCNN
from .feature_spec import FeatureSpec
from .lexical_embedding import LexicalEmbedding
from .lstm_settings import LSTMTaggerSettings
from .sequence_encoder import LSTMEncoder, float32_heads


class LSTMTagger(nn.Module):
    """Embed -> LSTM -> linear heads, one head per target.

    `n_labels` maps each target ("tag", "pos", "morph") to its number of
    labels; `forward` returns unnormalized logits per target, shaped
    (n_tokens, n_labels[target]). Heads start at zero, so an untrained
    network gives every label the same probability.
    """

    def __init__(
        self,
        features: FeatureSpec,
        n_labels: Mapping[str, int],
        settings: LSTMTaggerSettings = LSTMTaggerSettings(),  # noqa: B008 (frozen, never mutated)
    ) -> None:
        super().__init__()
        if not n_labels or any(n < 1 for n in n_labels.values()):
            raise ValueError(f"LSTMTagger needs at least one label per target, got {dict(n_labels)}.")
        vocab_rows = features.vocab_rows if features.vocab_attr else 0
        self.n_hashes = features.n_hashes
        self.lexical = LexicalEmbedding(
            vocab_rows, features.rows, settings.embed_width, settings.word_dropout
        )
        input_width = self.lexical.output_width
        # A CharCNN; its int8 copy holds CharTables instead.
        self.chars: Optional[nn.Module] = None
        if features.max_chars > 0 and settings.char_width > 0:
            chars = CharCNN(
                features.char_rows, settings.char_embed_width, settings.char_width, settings.char_kernel_size
            )
            input_width += chars.output_width
            self.chars = chars
        if input_width == 0:
            raise ValueError("LSTMTagger has no input features: enable vocab_attr, attrs or characters.")
        # The rate is set from spaCy's training dropout before each update.
        self.dropout = nn.Dropout(0.0)
        self.encoder = LSTMEncoder(input_width, settings.hidden_width, settings.depth, settings.bidirectional)
        heads = {target: nn.Linear(self.encoder.output_width, n) for target, n in n_labels.items()}
        for head in heads.values():
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.heads = nn.ModuleDict(heads)

    def forward(self, batch: TaggerBatch) -> Dict[str, torch.Tensor]:
        vectors = self.lexical(batch.words, batch.lexical)
        if self.chars is not None:
            vectors = torch.cat([vectors, self.chars(batch.chars)[batch.token_types]], dim=1)
        hidden = self.dropout(self.encoder(self.dropout(vectors), batch.lengths))
        return float32_heads(self.heads, hidden)
