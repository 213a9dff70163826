"""The input every tagging network receives."""

from typing import NamedTuple, Optional

import torch


class WordPieces(NamedTuple):
    """A checkpoint's word pieces of every token, in windows its encoder reads.

    ids: (n_windows, window_length) int64 piece ids; each window is the pieces the
        checkpoint's tokenizer puts before a sequence ([CLS] for BERT, <s> for
        RoBERTa and XLM-R), pieces of one sequence, the pieces it puts after
        ([SEP], </s>), then padding. A window holds pieces of one sequence only.
    mask: (n_windows, window_length) int64, 1 at real positions (special pieces
        included), 0 at padding.
    token_of_piece: (n_windows, window_length) int64, the token (row of the flat
        batch) each position belongs to, -1 for special pieces, padding and for a
        piece that an overlapping window covers farther from its edges. Every
        token has at least one position.
    first_piece: (n_tokens,) int64, the flat position (window * window_length +
        column) of each token's first piece.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    token_of_piece: torch.Tensor
    first_piece: torch.Tensor


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
    wordpieces: the checkpoint's word pieces, for a network that reads a
        pretrained encoder (None for the others).
    """

    lengths: torch.Tensor
    words: torch.Tensor
    lexical: torch.Tensor
    chars: torch.Tensor
    token_types: torch.Tensor
    wordpieces: Optional[WordPieces] = None
