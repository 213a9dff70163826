"""The input every tagging network receives."""

from typing import NamedTuple

import torch


class TaggerBatch(NamedTuple):
    """A batch of docs as tensors; tokens of all docs are concatenated in order.

    lengths: (n_sequences,) int64 on the CPU, the token count of each sequence the
        network reads on its own: a sentence where the doc has sentence boundaries,
        else a whole non-empty doc.
    words: (n_tokens,) int64, rows of the known-word table, 0 for unknown words.
    lexical: (n_tokens, n_attrs, n_hashes) int64, rows of each hashed attribute's
        table (already within that table).
    chars: (n_types, max_chars) int64, character table rows (0 for padding) of
        each distinct token text in the batch.
    token_types: (n_tokens,) int64, each token's row in `chars`.
    """

    lengths: torch.Tensor
    words: torch.Tensor
    lexical: torch.Tensor
    chars: torch.Tensor
    token_types: torch.Tensor
