"""Word pieces of every token, from a checkpoint's own tokenizer, in windows
the encoder can read.

Each token is split on its own (pieces never cross a token boundary); a token
the tokenizer turns into nothing (whitespace) gets the unknown piece, so every
token has at least one. A tokenizer that marks the space before a word (byte-level
BPE's "Ġ", SentencePiece's "▁") gets each word with its marker where the raw
text would have given it one, so the pieces of running text are the model's own.
Each window is framed by the pieces the tokenizer's post-processor puts around a
single sequence ([CLS] … [SEP], <s> … </s>). A sequence (a sentence, or a doc
without sentence boundaries) longer than a window is read in overlapping
windows; each piece pools into the token from the window where it sits farthest
from an edge.
"""

import json
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy

# Words that show whether and how a tokenizer marks a preceding space: the first
# one whose pieces differ with and without the marker is used.
PROBE_WORDS = ("a", "x", "0", ".")


class PieceArrays(NamedTuple):
    """See `network.batch.WordPieces`; numpy int64 arrays."""

    ids: numpy.ndarray
    mask: numpy.ndarray
    token_of_piece: numpy.ndarray
    first_piece: numpy.ndarray


def sequence_template(tokenizer: Any) -> Tuple[List[int], List[int]]:
    """The piece ids the tokenizer's post-processor puts before and after a single
    sequence: ([CLS], [SEP]) for BERT, (<s>, </s>) for RoBERTa, ([], []) without one.
    `tokenizer` is a tokenizers.Tokenizer without truncation and padding."""
    for probe in PROBE_WORDS:
        plain = tokenizer.encode(probe, add_special_tokens=False)
        if plain.ids:
            break
    else:
        raise ValueError(f"the tokenizer gives no pieces for any of {list(PROBE_WORDS)}")
    framed = tokenizer.post_process(plain)
    own = [position for position, sequence in enumerate(framed.sequence_ids) if sequence == 0]
    if not own or framed.ids[own[0] : own[-1] + 1] != plain.ids:
        raise ValueError(
            "the tokenizer's post-processor does not keep a single sequence whole between its "
            f"special pieces (it turns {plain.ids} into {framed.ids})"
        )
    return framed.ids[: own[0]], framed.ids[own[-1] + 1 :]


def marks_spaces(tokenizer: Any) -> bool:
    """Whether the tokenizer's pre-tokenizer marks the space before a word (ByteLevel or Metaspace)."""
    return _set_space_marker(json.loads(tokenizer.to_str()).get("pre_tokenizer"), None) > 0


class PieceTokenizer:
    """A checkpoint's tokenizer as the windows use it.

    before, after: the piece ids around each window's pieces (`sequence_template`).
    pad: the id that fills a window up to the longest of the batch.
    unk: the piece of a token the tokenizer turns into nothing.
    mark_spaces: encode words with the tokenizer's space marker where running text
        would give it (else each word as it is, as saved pipelines without it did).
    """

    def __init__(
        self,
        tokenizer: Any,
        before: Sequence[int],
        after: Sequence[int],
        pad: int,
        unk: int,
        mark_spaces: bool,
    ) -> None:
        self.tokenizer = tokenizer
        self.before = list(before)
        self.after = list(after)
        self.pad = pad
        self.unk = unk
        self.mark_spaces = mark_spaces
        self._marked: Any = None
        self._unmarked: Any = None
        self._probe: Optional[str] = None
        self._marks_after: Dict[str, bool] = {}

    def pieces_of_words(
        self, sequences: Sequence[Sequence[str]], preceding: Sequence[Sequence[str]]
    ) -> List[List[List[int]]]:
        """The piece ids of each word of each sequence (maybe none). `preceding`
        gives the character before each word in its text, "" for a sequence's first."""
        if not self.mark_spaces:
            encodings = self.tokenizer.encode_batch(
                [list(words) for words in sequences], is_pretokenized=True, add_special_tokens=False
            )
            return [
                _pieces_by_word(len(words), encoding.ids, encoding.word_ids)
                for words, encoding in zip(sequences, encodings, strict=True)
            ]
        # Per sequence, the positions of the words encoded with the marker and without it.
        sides: List[Tuple[List[int], List[int]]] = []
        for words, characters in zip(sequences, preceding, strict=True):
            marks = [self.marks_after(character) for character in characters]
            if len(marks) != len(words):
                raise ValueError(f"{len(words)} words, but the characters before {len(marks)}")
            sides.append(
                ([i for i, mark in enumerate(marks) if mark], [i for i, mark in enumerate(marks) if not mark])
            )
        by_sequence: List[List[List[int]]] = [[[] for _ in words] for words in sequences]
        for side, variant in enumerate(self._variants()):
            encodings = variant.encode_batch(
                [
                    [words[i] for i in positions[side]]
                    for words, positions in zip(sequences, sides, strict=True)
                ],
                is_pretokenized=True,
                add_special_tokens=False,
            )
            for by_word, positions, encoding in zip(by_sequence, sides, encodings, strict=True):
                encoded = _pieces_by_word(len(positions[side]), encoding.ids, encoding.word_ids)
                for word, pieces in zip(positions[side], encoded, strict=True):
                    by_word[word] = pieces
        return by_sequence

    def marks_after(self, character: str) -> bool:
        """Whether a word after `character` ("": at the start of a text) gets the
        tokenizer's space marker in running text: after whitespace the tokenizer
        marks (a space, for byte-level BPE; any whitespace its normalizer turns
        into one), and at the start when the tokenizer prefixes one."""
        if character and not character.isspace():
            return False
        if character not in self._marks_after:
            marked_tokenizer = self._variants()[0]
            marks = False
            if self._probe is not None:
                marked = marked_tokenizer.encode(
                    [self._probe], is_pretokenized=True, add_special_tokens=False
                )
                text = self._probe + character + self._probe if character else self._probe
                raw = self.tokenizer.encode(text, add_special_tokens=False).ids
                marks = bool(marked.ids) and raw[-len(marked.ids) :] == marked.ids
            self._marks_after[character] = marks
        return self._marks_after[character]

    def _variants(self) -> Tuple[Any, Any]:
        """Copies of the tokenizer that give every word the space marker, or none."""
        if self._marked is None:
            from tokenizers import Tokenizer

            settings = json.loads(self.tokenizer.to_str())
            variants = []
            for marked in (True, False):
                _set_space_marker(settings.get("pre_tokenizer"), marked)
                variants.append(Tokenizer.from_str(json.dumps(settings)))
            self._marked, self._unmarked = variants
            for probe in PROBE_WORDS:
                with_marker, without_marker = (
                    variant.encode([probe], is_pretokenized=True, add_special_tokens=False).ids
                    for variant in variants
                )
                if with_marker != without_marker:
                    self._probe = probe
                    break
        return self._marked, self._unmarked


def _set_space_marker(pre_tokenizer: Any, marked: Optional[bool]) -> int:
    """Set whether each ByteLevel / Metaspace pre-tokenizer in this (JSON) pre-tokenizer
    prefixes every word with its space marker (None: leave it); return how many there are."""
    if not isinstance(pre_tokenizer, dict):
        return 0
    kind = pre_tokenizer.get("type")
    if kind == "Sequence":
        return sum(_set_space_marker(part, marked) for part in pre_tokenizer.get("pretokenizers", []))
    if marked is not None and kind == "ByteLevel":
        pre_tokenizer["add_prefix_space"] = marked
    elif marked is not None and kind == "Metaspace":
        pre_tokenizer.pop("add_prefix_space", None)  # the setting of tokenizers < 0.15
        pre_tokenizer["prepend_scheme"] = "always" if marked else "never"
    return int(kind in ("ByteLevel", "Metaspace"))


def window_starts(n_pieces: int, width: int, stride: int) -> List[int]:
    """Start of each window of `width` pieces, `stride` apart, the last one ending at the end."""
    if n_pieces <= width:
        return [0]
    starts = list(range(0, n_pieces - width, stride))
    return starts + [n_pieces - width]


def wordpiece_arrays(
    sequences: Sequence[Sequence[str]],
    pieces: PieceTokenizer,
    window_length: int,
    stride: int,
    preceding: Optional[Sequence[Sequence[str]]] = None,
) -> PieceArrays:
    """Pieces of the token texts of each sequence (tokens of all sequences
    numbered in order), cut into windows of at most `window_length` positions
    (`pieces.before`, pieces, `pieces.after`) starting `stride` pieces apart.
    `preceding`: the character before each token in its doc ("" for the first of
    a sequence); by default a space between tokens, as in `Doc(vocab, words=...)`."""
    frame = len(pieces.before) + len(pieces.after)
    width = window_length - frame
    if width < 1 or not 1 <= stride <= width:
        raise ValueError(
            f"word piece windows need window_length >= {frame + 1} and 1 <= stride <= "
            f"window_length - {frame}, got {window_length} and {stride}"
        )
    if preceding is None:
        preceding = [["", *(" " for _ in tokens[1:])] for tokens in sequences]
    windows: List[List[int]] = []
    owners: List[List[int]] = []
    first_piece: List[tuple] = []  # (window, column) of each token's first owned piece
    token_offset = 0
    by_token = pieces.pieces_of_words(sequences, preceding)
    for tokens, token_pieces in zip(sequences, by_token, strict=True):
        ids, token_of = _flatten(token_pieces, pieces.unk)
        starts = window_starts(len(ids), width, stride)
        best = _owning_window(len(ids), starts, width)
        seen = set()
        for k, start in enumerate(starts):
            piece_range = range(start, min(start + width, len(ids)))
            windows.append([*pieces.before, *(ids[p] for p in piece_range), *pieces.after])
            row = [-1] * len(pieces.before)
            for p in piece_range:
                owner = token_offset + token_of[p] if best[p] == k else -1
                row.append(owner)
                if best[p] == k and token_of[p] not in seen:
                    # Owning windows never decrease along the pieces, so the first owned
                    # piece met is the token's first piece, and tokens come in order.
                    seen.add(token_of[p])
                    first_piece.append((len(windows) - 1, len(row) - 1))
            owners.append(row + [-1] * len(pieces.after))
        token_offset += len(tokens)
    length = max((len(window) for window in windows), default=frame)
    n = len(windows)
    ids_array = numpy.full((n, length), pieces.pad, dtype="int64")
    mask = numpy.zeros((n, length), dtype="int64")
    token_of_piece = numpy.full((n, length), -1, dtype="int64")
    for i, (window, row) in enumerate(zip(windows, owners, strict=True)):
        ids_array[i, : len(window)] = window
        mask[i, : len(window)] = 1
        token_of_piece[i, : len(row)] = row
    pairs = numpy.asarray(first_piece, dtype="int64").reshape(-1, 2)
    return PieceArrays(ids_array, mask, token_of_piece, pairs[:, 0] * length + pairs[:, 1])


def _pieces_by_word(
    n_words: int, piece_ids: Sequence[int], word_ids: Sequence[Optional[int]]
) -> List[List[int]]:
    """The piece ids of each word of one encoding."""
    by_word: List[List[int]] = [[] for _ in range(n_words)]
    for piece, word in zip(piece_ids, word_ids, strict=True):
        if word is not None:
            by_word[word].append(piece)
    return by_word


def _flatten(token_pieces: List[List[int]], unk: int) -> Tuple[List[int], List[int]]:
    """Piece ids and the token of each piece, with the unknown piece for tokens that got none."""
    ids: List[int] = []
    token_of: List[int] = []
    for token, pieces in enumerate(token_pieces):
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
