"""Embeddings of known words and of hashed lexical features."""

from typing import List, Sequence, Tuple, cast

import torch
from torch import nn


class LexicalEmbedding(nn.Module):
    """A known-word table (row 0 = unknown word) plus one table per hashed
    attribute; the vectors are concatenated.

    During training a token's word row is replaced by the unknown row with
    probability `word_dropout`, so that row learns what unseen words need and
    the network learns to tag them from spelling and context.
    """

    def __init__(
        self, vocab_rows: int, hashed_rows: Sequence[int], width: int, word_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"embed_width must be >= 1, got {width}.")
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {word_dropout}.")
        self.words = nn.Embedding(vocab_rows, width) if vocab_rows else None
        self.hashed = nn.ModuleList(nn.Embedding(n_rows, width) for n_rows in hashed_rows)
        self.word_dropout = word_dropout
        self.output_width = width * (len(self.hashed) + (1 if self.words is not None else 0))
        for table in self.tables():
            nn.init.normal_(table.weight, std=0.1)

    def tables(self) -> list:
        return ([self.words] if self.words is not None else []) + list(self.hashed)

    def tables_and_rows_summed(self, n_hashes: int) -> List[Tuple[nn.Embedding, int]]:
        """Each table in output order, with how many of its rows a token's vector sums:
        one word row, `n_hashes` rows of each hashed attribute."""
        words = [(self.words, 1)] if self.words is not None else []
        return words + [(cast(nn.Embedding, table), n_hashes) for table in self.hashed]

    def forward(self, words: torch.Tensor, lexical: torch.Tensor) -> torch.Tensor:
        """(n_tokens,) word rows and (n_tokens, n_attrs, n_hashes) hashed rows
        -> (n_tokens, output_width)."""
        vectors = []
        if self.words is not None:
            if self.training and self.word_dropout > 0.0:
                dropped = torch.rand(words.shape, device=words.device) < self.word_dropout
                words = words.masked_fill(dropped, 0)
            vectors.append(self.words(words))
        vectors.extend(table(lexical[:, i, :]).sum(dim=1) for i, table in enumerate(self.hashed))
        return torch.cat(vectors, dim=1)
