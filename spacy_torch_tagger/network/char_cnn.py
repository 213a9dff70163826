"""A character-level word encoder: embeddings, one convolution, max-pooling."""

import torch
from torch import nn


class CharCNN(nn.Module):
    """Encode each token from its characters, so unseen words get a vector
    from their spelling (suffixes, capitals, digits, hyphens)."""

    def __init__(self, n_rows: int, embed_width: int, width: int, kernel_size: int = 3) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"CharCNN kernel_size must be a positive odd number, got {kernel_size}.")
        self.embed = nn.Embedding(n_rows, embed_width, padding_idx=0)
        # The same scale as the word tables (LexicalEmbedding). torch's default N(0, 1)
        # made spelling outweigh the word vectors: on two training sentences an
        # unseen word took the tag of the seen word it shared letters with.
        nn.init.normal_(self.embed.weight, std=0.1)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        self.conv = nn.Conv1d(embed_width, width, kernel_size, padding=kernel_size // 2)
        self.output_width = width

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """(n_words, max_chars) row ids, 0 = padding -> (n_words, width)."""
        # (n, L, E) -> (n, E, L) for the convolution over positions.
        hidden = torch.relu(self.conv(self.embed(chars).transpose(1, 2)))
        padding = (chars == 0).unsqueeze(1)
        # relu output is >= 0, so 0 at padding never beats a real position.
        return hidden.masked_fill(padding, 0.0).amax(dim=2)
