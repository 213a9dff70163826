"""A trained character CNN as table lookups, for inference."""

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from torch import nn

from .char_cnn import CharCNN

# Words per lookup, so that a chunk's (words x characters x filters) sums stay in the CPU's cache.
WORDS_PER_CHUNK = 128
# A row so negative that a padding position never wins the max-pooling.
MASKED = -1e30


class CharTables(nn.Module):
    """Computes what `cnn` computes, divided filter by filter by the largest value
    that filter can output, so every output lies in [0, 1].

    A convolution over character embeddings is, at each position, the bias plus one
    row per window offset from a table of (embedding @ that offset's filter slice):
    the tables are computed once, and tagging sums rows (`embedding_bag`) instead of
    convolving. The largest value a filter can reach is the bias plus each table's
    largest entry (characters at different offsets are independent), after the ReLU.
    """

    def __init__(self, cnn: CharCNN) -> None:
        super().__init__()
        embeddings = cnn.embed.weight.detach().float()
        filters = cnn.conv.weight.detach().float()  # (width, embed_width, kernel)
        bias = (
            cnn.conv.bias.detach().float() if cnn.conv.bias is not None else filters.new_zeros(len(filters))
        )
        self.kernel_size = filters.shape[2]
        n_rows, width = embeddings.shape[0], filters.shape[0]
        tables = torch.einsum("re,wek->krw", embeddings, filters)
        # The convolution pads with zero vectors: an extra all-zero row beyond each table.
        tables = torch.cat([tables, tables.new_zeros((self.kernel_size, 1, width))], dim=1)
        largest = torch.relu(bias + tables.amax(dim=1).sum(dim=0))
        self.bound = largest.clamp(min=torch.finfo(torch.float32).tiny)
        tables[self.kernel_size // 2] += bias  # every position reads its own character's row once
        self.rows_per_offset = n_rows + 1
        self.outside = n_rows  # the zero row, within each offset's block
        # One table: offset 0's rows, offset 1's, ..., then the MASKED row.
        masked = tables.new_full((1, width), MASKED)
        self.table = torch.cat([(tables / self.bound).reshape(-1, width), masked])
        self.masked_row = self.table.shape[0] - 1
        self.output_width = width

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """(n_words, max_chars) row ids, 0 = padding -> (n_words, width) in [0, 1]."""
        n_words, length = chars.shape
        edge = self.kernel_size // 2
        padded = F.pad(chars, (edge, edge), value=self.outside)
        rows = torch.stack(
            [padded[:, k : k + length] + k * self.rows_per_offset for k in range(self.kernel_size)], dim=2
        )
        # A padding position sums the MASKED row and zero rows.
        masked = torch.full((self.kernel_size,), self.outside, dtype=rows.dtype, device=rows.device)
        masked[0] = self.masked_row
        rows = torch.where((chars == 0).unsqueeze(2), masked, rows)
        pooled = self.table.new_empty((n_words, self.output_width))
        for start in range(0, n_words, WORDS_PER_CHUNK):
            chunk = rows[start : start + WORDS_PER_CHUNK]
            sums = F.embedding_bag(chunk.reshape(-1, self.kernel_size), self.table, mode="sum")
            torch.amax(sums.view(len(chunk), length, -1), dim=1, out=pooled[start : start + WORDS_PER_CHUNK])
        # max then ReLU equals ReLU then max; a word of padding only gets 0.
        return pooled.relu_()
