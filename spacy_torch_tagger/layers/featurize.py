"""Docs -> integer arrays (numpy only) for the tagging networks."""

from dataclasses import dataclass
from typing import Iterable, List, Sequence, Union

import numpy
from spacy.attrs import IDS
from spacy.tokens import Doc
from thinc.api import NumpyOps

from ..network import FeatureSpec
from .known_words import KnownWords

_NUMPY_OPS = NumpyOps()


@dataclass
class FeatureArrays:
    """Arrays for one batch; tokens of all docs concatenated in order."""

    words: numpy.ndarray  # (n_tokens,) int64
    lexical: numpy.ndarray  # (n_tokens, n_attrs, n_hashes) int64
    chars: numpy.ndarray  # (n_types, max_chars) int64, one row per distinct token text
    token_types: numpy.ndarray  # (n_tokens,) int64, each token's row in `chars`


def attr_ids(attrs: Iterable[str]) -> List[Union[int, str]]:
    """spaCy attribute ids for attribute names, with an error naming bad ones."""
    attrs = list(attrs)
    unknown = [name for name in attrs if not isinstance(name, str) or name.upper() not in IDS]
    if unknown:
        raise ValueError(
            f"Unknown lexical attribute(s) {unknown} in the features config. "
            "Use spaCy attribute names such as NORM, LOWER, ORTH, PREFIX, SUFFIX, SHAPE."
        )
    return [IDS[name.upper()] for name in attrs]


def featurize(docs: Sequence[Doc], spec: FeatureSpec, known_words: KnownWords) -> FeatureArrays:
    """Look tokens up in the word table, hash their lexical attributes into
    table rows, and collect their characters."""
    n_tokens = sum(len(doc) for doc in docs)
    nonempty = [doc for doc in docs if len(doc)]
    columns = ["ORTH"] + ([spec.vocab_attr] if spec.vocab_attr else []) + list(spec.attrs)
    keys = (
        numpy.concatenate([doc.to_array(attr_ids(columns)) for doc in nonempty]).astype("uint64")
        if n_tokens
        else numpy.zeros((0, len(columns)), dtype="uint64")
    )
    words = known_words.rows(keys[:, 1]) if spec.vocab_attr else numpy.zeros((n_tokens,), dtype="int64")
    hashed_keys = keys[:, 2:] if spec.vocab_attr else keys[:, 1:]
    lexical = numpy.zeros((n_tokens, len(spec.attrs), spec.n_hashes), dtype="int64")
    for i, n_rows in enumerate(spec.rows):
        if n_tokens:
            hashed = _NUMPY_OPS.hash(numpy.ascontiguousarray(hashed_keys[:, i]), i)[:, : spec.n_hashes]
            lexical[:, i, :] = hashed.astype("int64") % n_rows
    # Characters are encoded once per distinct token text in the batch.
    types, token_types = numpy.unique(keys[:, 0], return_inverse=True)
    if spec.max_chars and n_tokens:
        strings = nonempty[0].vocab.strings
        chars = _char_rows([strings[int(key)] for key in types], spec.max_chars, spec.char_rows)
    else:
        chars = numpy.zeros((len(types), spec.max_chars), dtype="int64")
    return FeatureArrays(words=words, lexical=lexical, chars=chars, token_types=token_types.astype("int64"))


def _char_rows(texts: Sequence[str], max_chars: int, n_rows: int) -> numpy.ndarray:
    """(n_texts, max_chars) character rows; a text longer than `max_chars`
    keeps its first ceil(max_chars / 2) and last floor(max_chars / 2) characters."""
    # UTF-32 gives one code point per string index.
    codepoints = numpy.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype("int64")
    length = numpy.fromiter((len(text) for text in texts), dtype="int64", count=len(texts))[:, None]
    start = numpy.cumsum(length) - length[:, 0]
    start = start[:, None]
    position = numpy.arange(max_chars)[None, :]
    front = (max_chars + 1) // 2
    is_long = length > max_chars
    source = numpy.where(
        is_long & (position >= front), start + length - max_chars + position, start + position
    )
    valid = is_long | (position < length)
    codes = codepoints[numpy.minimum(source, len(codepoints) - 1)]
    return numpy.where(valid, codes % (n_rows - 1) + 1, 0)
