import json
import os
import subprocess
import sys
from typing import Any, Dict

import pytest
import spacy

from spacy_torch_tagger.layers.featurize import attr_ids, featurize
from spacy_torch_tagger.layers.known_words import KnownWords
from spacy_torch_tagger.layers.network_input import sequence_lengths
from spacy_torch_tagger.network.feature_spec import FeatureSpec

SPEC = FeatureSpec(
    vocab_attr="NORM",
    vocab_rows=10,
    vocab_min_count=2,
    attrs=("PREFIX", "SUFFIX"),
    rows=(7, 11),
    n_hashes=3,
    max_chars=6,
    char_rows=50,
)


@pytest.fixture
def nlp():
    return spacy.blank("en")


def test_shapes_and_ranges(nlp):
    docs = [nlp("The cat sat."), nlp(""), nlp("A dog")]
    arrays = featurize(docs, SPEC, KnownWords.from_docs(docs, SPEC))
    assert sequence_lengths(docs).tolist() == [4, 2]
    assert arrays.words.shape == (6,)
    assert arrays.lexical.shape == (6, 2, 3)
    assert (arrays.lexical[:, 0] < 7).all() and (arrays.lexical[:, 1] < 11).all()
    assert arrays.chars.shape[1] == 6 and arrays.token_types.shape == (6,)


def test_known_words_keep_frequent_words_and_unknown_words_get_row_zero(nlp):
    docs = [nlp("the cat and the dog and the bird")]
    known_words = KnownWords.from_docs(docs, SPEC)
    assert sorted(nlp.vocab.strings[int(k)] for k in known_words.keys) == ["and", "the"]
    words = featurize([nlp("the fish and")], SPEC, known_words).words
    assert words[0] > 0 and words[1] == 0 and words[2] > 0 and words[0] != words[2]


def test_known_words_are_capped_at_the_most_frequent_words(nlp):
    spec = FeatureSpec("NORM", 3, 1, (), (), 1, 0, 0)
    known_words = KnownWords.from_docs([nlp("a a a b b c d")], spec)
    assert sorted(nlp.vocab.strings[int(k)] for k in known_words.keys) == ["a", "b"]


def test_repeated_words_share_one_character_row(nlp):
    arrays = featurize([nlp("the cat the cat dog")], SPEC, KnownWords.from_docs([], SPEC))
    assert len(arrays.chars) == 3
    types = arrays.token_types
    assert types[0] == types[2] and types[1] == types[3] and len(set(types.tolist())) == 3


def test_long_tokens_keep_their_start_and_end(nlp):
    arrays = featurize([nlp("abcdefghij")], SPEC, KnownWords.from_docs([], SPEC))
    # max_chars 6: first 3 and last 3 characters
    expected = [ord(c) % 49 + 1 for c in "abchij"]
    assert arrays.chars[0].tolist() == expected


def test_short_tokens_are_padded_with_zero(nlp):
    arrays = featurize([nlp("ab")], SPEC, KnownWords.from_docs([], SPEC))
    assert arrays.chars[0].tolist() == [ord("a") % 49 + 1, ord("b") % 49 + 1, 0, 0, 0, 0]


def test_odd_unicode_is_featurized(nlp):
    text = "e\u0301 \u200b 😀 مرحبا \x07 " + "x" * 5000
    doc = nlp(text)
    arrays = featurize([doc], SPEC, KnownWords.from_docs([], SPEC))
    assert arrays.chars.shape == (len({t.text for t in doc}), 6)
    assert (arrays.chars >= 0).all() and (arrays.chars < 50).all()


FEATURIZE_IN_A_PROCESS = """
import json, sys
import spacy
from spacy_torch_tagger.network.feature_spec import FeatureSpec
from spacy_torch_tagger.layers.featurize import featurize
from spacy_torch_tagger.layers.known_words import KnownWords
spec = FeatureSpec(**json.loads(sys.argv[1]))
nlp = spacy.blank("en")
docs = [nlp(text) for text in json.loads(sys.argv[2])]
arrays = featurize(docs, spec, KnownWords.from_docs(docs, spec))
names = ("words", "lexical", "chars", "token_types")
print(json.dumps({name: getattr(arrays, name).tolist() for name in names}))
"""


def test_featurizing_is_the_same_in_every_process(nlp):
    """Hash rows must not depend on the process (pid, hash seed), or a saved model
    would read other rows than it was trained with."""
    texts = ["Hashing must not depend on the process.", "Zürich's 3rd café, naïvely!"]
    settings: Dict[str, Any] = {
        "vocab_rows": 10,
        "vocab_min_count": 1,
        "attrs": ["PREFIX", "SUFFIX", "SHAPE", "NORM"],
        "rows": [7, 11, 13, 17],
        "n_hashes": 3,
        "max_chars": 6,
        "char_rows": 50,
    }
    outputs = []
    for hash_seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", FEATURIZE_IN_A_PROCESS, json.dumps(settings), json.dumps(texts)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.returncode == 0, result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    spec = FeatureSpec(**{**settings, "attrs": tuple(settings["attrs"]), "rows": tuple(settings["rows"])})
    docs = [nlp(text) for text in texts]
    here = featurize(docs, spec, KnownWords.from_docs(docs, spec))
    assert outputs[0]["lexical"] == here.lexical.tolist() and outputs[0]["words"] == here.words.tolist()
    assert outputs[0]["chars"] == here.chars.tolist()


def test_unknown_attribute_names_are_named_in_the_error():
    with pytest.raises(ValueError, match="BOGUS"):
        attr_ids(["NORM", "BOGUS"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"attrs": ("PREFIX",), "rows": ()}, "one table size per attribute"),
        ({"n_hashes": 5}, "n_hashes"),
        ({"vocab_rows": 1}, "vocab_rows"),
        ({"max_chars": -1}, "max_chars"),
        ({"vocab_attr": "", "attrs": (), "rows": (), "max_chars": 0}, "no feature"),
    ],
)
def test_bad_feature_specs_are_refused_with_a_reason(kwargs, message):
    settings: Dict[str, Any] = dict(
        vocab_attr="NORM",
        vocab_rows=10,
        vocab_min_count=1,
        attrs=(),
        rows=(),
        n_hashes=1,
        max_chars=4,
        char_rows=10,
    )
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message):
        FeatureSpec(**settings)
