"""`spacy_torch_tagger.LanguageTokenizer.v1`: configs/ud_fast.cfg tokenizes each language
with the tokenizer spaCy gives it, whatever `--nlp.lang` names."""

from pathlib import Path

import pytest
import spacy
from spacy.lang.zh import ChineseTokenizer
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import load_config, load_model_from_config

from conftest import REPO


def _ud_fast(lang: str) -> Language:
    overrides = {"nlp.lang": lang, "paths.train": "corpus/train.spacy", "paths.dev": "corpus/dev.spacy"}
    config = load_config(REPO / "configs" / "ud_fast.cfg", overrides=overrides)
    return load_model_from_config(config, auto_fill=True)


@pytest.mark.parametrize("lang", ["hu", "el", "en"])
def test_a_language_with_spaces_gets_spacys_rule_based_tokenizer_with_its_rules(lang):
    nlp = _ud_fast(lang)
    assert type(nlp.tokenizer) is Tokenizer
    text = "Ez egy mondat, nem? Don't (Mr. Smith) στο σπίτι."
    assert [t.text for t in nlp.make_doc(text)] == [t.text for t in spacy.blank(lang).make_doc(text)]


def test_chinese_gets_spacys_chinese_segmenter_not_one_token_per_sentence():
    nlp = _ud_fast("zh")
    assert isinstance(nlp.tokenizer, ChineseTokenizer)
    assert [t.text for t in nlp.make_doc("我爱北京。")] == ["我", "爱", "北", "京", "。"]


def test_a_segmenter_spacy_needs_a_library_for_names_it():
    with pytest.raises(ImportError, match="SudachiPy"):
        _ud_fast("ja")


def test_the_pipeline_saves_and_loads_with_the_languages_tokenizer(tmp_path: Path):
    nlp = _ud_fast("zh")
    nlp.to_disk(tmp_path / "zh")
    loaded = spacy.load(tmp_path / "zh")
    assert isinstance(loaded.tokenizer, ChineseTokenizer)
    assert loaded.config["nlp"]["tokenizer"] == {"@tokenizers": "spacy_torch_tagger.LanguageTokenizer.v1"}
    assert [t.text for t in loaded.make_doc("我爱北京。")] == ["我", "爱", "北", "京", "。"]
