"""The positions inside a whitespace-delimited chunk where a token boundary may be
changed, and the string features a classifier reads there."""

import bisect
import re
import unicodedata
import zlib
from typing import Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from spacy.tokens import Doc, Token

CHUNK = re.compile(r"\S+")
# Longer chunks (a CSV line, minified JSON, a ===== rule) keep the base tokenizer's tokens:
# their features grow with their length, and treebanks hardly hold any.
MAX_CHUNK_LENGTH = 200


class Chunk(NamedTuple):
    """A whitespace-delimited chunk to decide: its characters, the base tokens in it
    (`first` to `after`, starting at `token_offsets` from the chunk's start) and the shape of
    the next chunk's first character."""

    start: int
    end: int
    first: int
    after: int
    token_offsets: Tuple[int, ...]
    next_shape: str


class Candidate(NamedTuple):
    """A position between two characters of a chunk, with what the base tokenizer did there."""

    chunk: Chunk
    position: int
    base_split: bool
    # Candidates with the same group are decided together: the two sides of a one-character
    # infix such as the hyphen in `303-832` (split both or neither).
    group: Optional[int]


def char_class(char: str) -> str:
    """`x` lower-case letter, `X` upper-case, `d` digit, else the character itself."""
    if char.isalpha():
        return "X" if char.isupper() else "x"
    if char.isdigit():
        return "d"
    return char


ASCII_CLASSES = str.maketrans({chr(code): char_class(chr(code)) for code in range(128)})


def shape(text: str) -> str:
    """The text as character classes, one per character."""
    if text.isascii():
        return text.translate(ASCII_CLASSES)
    return "".join(char_class(char) for char in text)


def token_boundaries(doc: Doc) -> Set[int]:
    """Character offsets where a token of the doc starts or ends."""
    if not len(doc):
        return set()
    columns = doc.to_array(["IDX", "LENGTH"])
    return set(columns[:, 0].tolist()) | set((columns[:, 0] + columns[:, 1]).tolist())


def is_word_char(char: str) -> bool:
    """A letter, a digit, or a combining mark (part of the letter before it: Devanagari
    vowel signs, decomposed accents)."""
    return char.isalnum() or unicodedata.category(char).startswith("M")


def is_word(text: str) -> bool:
    """Only word characters."""
    return text.isalnum() or all(is_word_char(char) for char in text)


def is_infix(text: str, start: int) -> bool:
    """A single non-word character with word characters on both sides."""
    return (
        0 < start < len(text) - 1
        and not is_word_char(text[start])
        and is_word_char(text[start - 1])
        and is_word_char(text[start + 1])
    )


def chunks_to_decide(text: str, base: Doc, splittable: Set[str]) -> Iterator[Chunk]:
    """The chunks of `text` that hold a candidate (see `candidates`). A chunk that is one base
    token of only word characters, or of none, has none unless it is splittable: most chunks
    are skipped without looking at their tokens. Chunks over MAX_CHUNK_LENGTH are skipped."""
    token_starts = base.to_array("IDX").tolist() if len(base) else []
    spans = [match.span() for match in CHUNK.finditer(text)]
    for index, (chunk_start, chunk_end) in enumerate(spans):
        first = bisect.bisect_left(token_starts, chunk_start)
        after = bisect.bisect_left(token_starts, chunk_end, lo=first)
        if chunk_end - chunk_start > MAX_CHUNK_LENGTH:
            continue
        chunk = text[chunk_start:chunk_end]
        one_plain_token = is_word(chunk) or not any(is_word_char(char) for char in chunk)
        if after - first == 1 and one_plain_token and chunk.lower() not in splittable:
            continue
        next_shape = shape(text[spans[index + 1][0]]) if index + 1 < len(spans) else ""
        offsets = tuple(start - chunk_start for start in token_starts[first:after])
        yield Chunk(chunk_start, chunk_end, first, after, offsets, next_shape)


def chunk_candidates(text: str, base: Doc, chunk: Chunk, splittable: Set[str]) -> List[Candidate]:
    """The positions to decide in one chunk, in order.

    Every base boundary inside the chunk may be removed (a merge). A position inside a
    base token may become a boundary (a split) where word characters meet other
    characters, or anywhere in a token the training treebank split inside (`splittable`,
    lower-cased); never inside a URL, an e-mail address or a `mailto:` link.
    """
    found: Dict[int, Candidate] = {}
    for token in base[chunk.first : chunk.after]:
        add_token_candidates(text, token, chunk, splittable, found)
    return [found[position] for position in sorted(found)]


def candidates(text: str, base: Doc, splittable: Set[str]) -> List[Candidate]:
    """The positions to decide in the base tokenizer's doc of `text`, chunk by chunk."""
    return [
        candidate
        for chunk in chunks_to_decide(text, base, splittable)
        for candidate in chunk_candidates(text, base, chunk, splittable)
    ]


def add_token_candidates(
    text: str,
    token: Token,
    chunk: Chunk,
    splittable: Set[str],
    found: Dict[int, Candidate],
) -> None:
    """The merge candidate at the token's start and its split candidates (see candidates)."""
    if token.is_space:
        return
    start, end = token.idx, token.idx + len(token.text)
    if start > chunk.start and start not in found:  # else the end of an infix before it, grouped
        group = start if len(token.text) == 1 and is_infix(text, start) else None
        found[start] = Candidate(chunk, start, True, group)
        if group is not None:
            found[end] = Candidate(chunk, end, True, group)
    if len(token.text) < 2 or token.like_url or token.like_email or token.lower_.startswith("mailto:"):
        return
    learnt = token.text.lower() in splittable
    if not learnt and (is_word(token.text) or not any(is_word_char(char) for char in token.text)):
        return
    for position in range(start + 1, end):
        if learnt or is_word_char(text[position - 1]) != is_word_char(text[position]):
            group = position if is_infix(text, position) else None
            if group is not None or position not in found:
                found[position] = Candidate(chunk, position, False, group)
            if group is not None:
                # The infix may end the token (`Mr.` before `Smith`): there the base did split.
                after = position + 1
                found[after] = Candidate(chunk, after, after == end, group)


def feature_strings(text: str, candidate: Candidate) -> List[str]:
    """What the classifier reads at a candidate: the chunk and its shape with the
    position, the characters around it, what precedes and follows it in the chunk,
    whether the base tokenizer split there, and the next chunk's first character."""
    original = text[candidate.chunk.start : candidate.chunk.end]
    chunk = original.lower()
    offset = candidate.position - candidate.chunk.start
    split = int(candidate.base_split)
    left, right = chunk[:offset], chunk[offset:]
    left_shape, right_shape = (
        shape(original[max(0, offset - 2) : offset]),
        shape(original[offset : offset + 2]),
    )
    return [
        f"base={split}",
        f"chunk={chunk}@{offset}",
        f"shape={shape(original)}@{offset}",
        f"chars={original[offset - 1]}|{original[offset]}",
        f"shapes={left_shape}|{right_shape}|{split}",
        f"around={left[-3:]}|{right[:3]}",
        f"left={left}|{split}",
        f"right={right}|{split}",
        f"classes={char_class(original[offset - 1])}{char_class(original[offset])}{split}",
        f"next={chunk}@{offset}|{candidate.chunk.next_shape}",
    ]


def feature_ids(text: str, candidate: Candidate, bits: int) -> List[int]:
    """The candidate's features hashed into `2**bits` rows (CRC-32: the same in every process)."""
    mask = (1 << bits) - 1
    return [zlib.crc32(feature.encode("utf8")) & mask for feature in feature_strings(text, candidate)]
