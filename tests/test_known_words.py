"""The known-word table: built from training docs, saved with a checksum."""

import numpy
import pytest
import spacy
import srsly

from spacy_torch_tagger.layers.known_words import KnownWords, KnownWordsError
from spacy_torch_tagger.network.feature_spec import FeatureSpec

SPEC = FeatureSpec(vocab_rows=10, vocab_min_count=1, attrs=(), rows=(), max_chars=0)


@pytest.fixture
def known_words() -> KnownWords:
    nlp = spacy.blank("en")
    return KnownWords.from_docs([nlp("the cat and the dog and the bird")], SPEC)


def test_rows_follow_the_sorted_keys_and_unknown_words_get_row_zero(known_words):
    strings = spacy.blank("en").vocab.strings
    keys = numpy.asarray([strings.add("the"), strings.add("fish"), strings.add("bird")], dtype="uint64")
    rows = known_words.rows(keys)
    assert rows[1] == 0 and rows[0] > 0 and rows[2] > 0 and rows[0] != rows[2]
    assert numpy.array_equal(known_words.keys, numpy.sort(known_words.keys))


def test_bytes_round_trip(known_words):
    loaded = KnownWords.from_bytes(known_words.to_bytes())
    assert numpy.array_equal(loaded.keys, known_words.keys) and loaded.keys.dtype == numpy.uint64


def test_a_flipped_byte_is_refused(known_words):
    message = srsly.msgpack_loads(known_words.to_bytes())
    keys = bytearray(message["keys"])
    keys[len(keys) // 2] ^= 0xFF
    message["keys"] = bytes(keys)
    with pytest.raises(KnownWordsError, match="checksum"):
        KnownWords.from_bytes(srsly.msgpack_dumps(message))


@pytest.mark.parametrize("data", [b"\x00not msgpack\xff", srsly.msgpack_dumps({"format": "other"})])
def test_foreign_data_is_refused(data):
    with pytest.raises(KnownWordsError, match="format"):
        KnownWords.from_bytes(data)
