"""The description of the integer features a tagging network reads.

This module imports neither spaCy nor torch: the featurizer (numpy) and the
networks (torch) both size themselves from a `FeatureSpec`. Its defaults are
the defaults of the `spacy_torch_tagger.TokenFeatures.v1` architecture.
"""

from dataclasses import dataclass
from typing import Tuple

from .value_checks import check_int, check_str

OWNER = "TokenFeatures"


@dataclass(frozen=True)
class FeatureSpec:
    """Which token features feed which embedding tables.

    vocab_attr: spaCy attribute (e.g. "NORM") looked up in a table of the words
        seen in training; "" disables it. Row 0 stands for unknown words.
    vocab_rows: rows of that table: the most frequent training words plus one.
    vocab_min_count: how often a word must occur in training to get a row.
    attrs: spaCy lexical attribute names (e.g. "PREFIX", "SUFFIX", "SHAPE")
        hashed into tables of their own, one per attribute.
    rows: number of rows of each hashed attribute's table.
    n_hashes: hash functions per hashed attribute (1-4); a token's vector is the
        sum of its rows, so two values rarely share all of them.
    max_chars: characters kept per token for the character encoder (longer
        tokens keep their first and last characters); 0 disables characters.
    char_rows: rows of the character table; row 0 is padding.
    """

    vocab_attr: str = "NORM"
    vocab_rows: int = 20000
    vocab_min_count: int = 2
    attrs: Tuple[str, ...] = ("PREFIX", "SUFFIX", "SHAPE")
    rows: Tuple[int, ...] = (2000, 5000, 1000)
    n_hashes: int = 2
    max_chars: int = 16
    char_rows: int = 1000

    def __post_init__(self) -> None:
        check_str(OWNER, "vocab_attr", self.vocab_attr)
        check_int(OWNER, "vocab_rows", self.vocab_rows, 2 if self.vocab_attr else 0)
        check_int(OWNER, "vocab_min_count", self.vocab_min_count, 1)
        for name in self.attrs:
            check_str(OWNER, "attrs", name)
        for n_rows in self.rows:
            check_int(OWNER, "rows (each hashed table's size)", n_rows, 1)
        check_int(OWNER, "n_hashes", self.n_hashes, 1, 4)
        check_int(OWNER, "max_chars", self.max_chars, 0)
        check_int(OWNER, "char_rows", self.char_rows, 2 if self.max_chars else 0)
        if len(self.attrs) != len(self.rows):
            raise ValueError(
                f"{OWNER} has {len(self.attrs)} attrs {list(self.attrs)} but {len(self.rows)} "
                f"rows {list(self.rows)}: give one table size per attribute."
            )
        if not self.attrs and not self.vocab_attr and not self.max_chars:
            raise ValueError(
                f'{OWNER} uses no feature: set vocab_attr, attrs or max_chars, e.g. vocab_attr = "NORM".'
            )
