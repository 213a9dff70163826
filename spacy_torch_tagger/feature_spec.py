"""The description of the integer features a tagging network reads.

This module imports neither spaCy nor torch: the featurizer (numpy) and the
networks (torch) both size themselves from a `FeatureSpec`.
"""

from dataclasses import dataclass
from typing import Tuple


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

    vocab_attr: str
    vocab_rows: int
    vocab_min_count: int
    attrs: Tuple[str, ...]
    rows: Tuple[int, ...]
    n_hashes: int
    max_chars: int
    char_rows: int

    def __post_init__(self) -> None:
        if not self.attrs and not self.vocab_attr and not self.max_chars:
            raise ValueError(
                "The features config uses no feature: set vocab_attr, attrs or max_chars, "
                'e.g. vocab_attr = "NORM".'
            )
        if self.vocab_attr and self.vocab_rows < 2:
            raise ValueError(f"vocab_rows must be >= 2 (row 0 is for unknown words), got {self.vocab_rows}.")
        if self.vocab_min_count < 1:
            raise ValueError(f"vocab_min_count must be >= 1, got {self.vocab_min_count}.")
        if len(self.attrs) != len(self.rows):
            raise ValueError(
                f"The features config has {len(self.attrs)} attrs {list(self.attrs)} but {len(self.rows)} "
                f"rows {list(self.rows)}: give one table size per attribute."
            )
        if any(n < 1 for n in self.rows):
            raise ValueError(f"Every hashed table needs >= 1 row, got rows = {list(self.rows)}.")
        if not 1 <= self.n_hashes <= 4:
            raise ValueError(f"n_hashes must be between 1 and 4, got {self.n_hashes}.")
        if self.max_chars < 0:
            raise ValueError(f"max_chars must be >= 0 (0 disables characters), got {self.max_chars}.")
        if self.max_chars > 0 and self.char_rows < 2:
            raise ValueError(f"char_rows must be >= 2 when characters are used, got {self.char_rows}.")
