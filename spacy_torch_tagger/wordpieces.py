"""Word pieces of every token, from a checkpoint's own tokenizer, in windows
the encoder can read.

Each token is split on its own (pieces never cross a token boundary); a token
the tokenizer turns into nothing (whitespace) gets the unknown piece, so every
token has at least one. A sequence (a sentence, or a doc without sentence
boundaries) longer than a window is read in overlapping windows; each piece
pools into the token from the window where it sits farthest from an edge.
"""

from typing import Dict, List, NamedTuple, Sequence

import numpy


class PieceArrays(NamedTuple):
    """See `network.batch.WordPieces`; numpy int64 arrays."""

    ids: numpy.ndarray
    mask: numpy.ndarray
    token_of_piece: numpy.ndarray
    first_piece: numpy.ndarray


def window_starts(n_pieces: int, width: int, stride: int) -> List[int]:
    """Start of each window of `width` pieces, `stride` apart, the last one ending at the end."""
    if n_pieces <= width:
        return [0]
    starts = list(range(0, n_pieces - width, stride))
    return starts + [n_pieces - width]


def wordpiece_arrays(
    sequences: Sequence[Sequence[str]],
    tokenizer: object,
    special: Dict[str, int],
    window_length: int,
    stride: int,
) -> PieceArrays:
    """Pieces of the token texts of each sequence (tokens of all sequences
    numbered in order), cut into windows of at most `window_length` positions
    ([CLS] pieces [SEP]) starting `stride` pieces apart."""
    width = window_length - 2
    if width < 1 or not 1 <= stride <= width:
        raise ValueError(
            f"word piece windows need window_length >= 3 and 1 <= stride <= window_length - 2, "
            f"got {window_length} and {stride}"
        )
    encodings = (
        tokenizer.encode_batch(  # type: ignore[attr-defined]
            [list(tokens) for tokens in sequences], is_pretokenized=True, add_special_tokens=False
        )
        if sequences
        else []
    )
    windows: List[List[int]] = []
    owners: List[List[int]] = []
    first_piece: List[tuple] = []  # (window, column) of each token's first owned piece
    token_offset = 0
    for tokens, encoding in zip(sequences, encodings, strict=True):
        ids, token_of = _pieces_per_token(len(tokens), encoding.ids, encoding.word_ids, special["unk"])
        starts = window_starts(len(ids), width, stride)
        best = _owning_window(len(ids), starts, width)
        seen = set()
        for k, start in enumerate(starts):
            piece_range = range(start, min(start + width, len(ids)))
            windows.append([special["cls"], *(ids[p] for p in piece_range), special["sep"]])
            row = [-1]
            for p in piece_range:
                owner = token_offset + token_of[p] if best[p] == k else -1
                row.append(owner)
                if best[p] == k and token_of[p] not in seen:
                    # Owning windows never decrease along the pieces, so the first owned
                    # piece met is the token's first piece, and tokens come in order.
                    seen.add(token_of[p])
                    first_piece.append((len(windows) - 1, len(row) - 1))
            owners.append(row + [-1])
        token_offset += len(tokens)
    length = max((len(window) for window in windows), default=2)
    n = len(windows)
    ids_array = numpy.full((n, length), special["pad"], dtype="int64")
    mask = numpy.zeros((n, length), dtype="int64")
    token_of_piece = numpy.full((n, length), -1, dtype="int64")
    for i, (window, row) in enumerate(zip(windows, owners, strict=True)):
        ids_array[i, : len(window)] = window
        mask[i, : len(window)] = 1
        token_of_piece[i, : len(row)] = row
    pairs = numpy.asarray(first_piece, dtype="int64").reshape(-1, 2)
    return PieceArrays(ids_array, mask, token_of_piece, pairs[:, 0] * length + pairs[:, 1])


def _pieces_per_token(n_tokens: int, piece_ids: Sequence[int], word_ids: Sequence[object], unk: int) -> tuple:
    """Piece ids and the token of each piece, with the unknown piece for tokens that got none."""
    by_token: List[List[int]] = [[] for _ in range(n_tokens)]
    for piece, word in zip(piece_ids, word_ids, strict=True):
        if word is not None:
            by_token[int(word)].append(piece)  # type: ignore[call-overload]
    ids: List[int] = []
    token_of: List[int] = []
    for token, pieces in enumerate(by_token):
        pieces = pieces or [unk]
        ids.extend(pieces)
        token_of.extend([token] * len(pieces))
    return ids, token_of


def _owning_window(n_pieces: int, starts: List[int], width: int) -> List[int]:
    """For each piece, the window (index into starts) where it is farthest from an edge."""
    best = [0] * n_pieces
    for p in range(n_pieces):
        margins = [
            (min(p - start, start + width - 1 - p), k)
            for k, start in enumerate(starts)
            if start <= p < start + width
        ]
        best[p] = max(margins)[1]
    return best
