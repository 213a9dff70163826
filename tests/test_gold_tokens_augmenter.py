"""spacy_torch_tagger.with_gold_tokens.v1: each training doc on the tokenizer's tokens,
then each of its gold sentences on the treebank's tokens."""

from typing import List

import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus, Example
from spacy.util import registry


def _reference(nlp: spacy.Language) -> Doc:
    """Two gold sentences whose tokens the English tokenizer splits otherwise ("New-York")."""
    words = ["New-York", "is", "big", ".", "We", "like", "it", "."]
    spaces = [True, True, False, True, True, True, False, False]
    doc = Doc(
        nlp.vocab,
        words=words,
        spaces=spaces,
        pos=["PROPN", "AUX", "ADJ", "PUNCT", "PRON", "VERB", "PRON", "PUNCT"],
    )
    for token in doc:
        token.is_sent_start = token.i in (0, 4)
    return doc


def _texts(doc: Doc) -> List[str]:
    return [token.text for token in doc]


def test_the_tokenizer_example_comes_first_then_each_gold_sentence_on_gold_tokens():
    nlp = spacy.blank("en")
    augment = registry.augmenters.get("spacy_torch_tagger.with_gold_tokens.v1")()
    reference = _reference(nlp)
    raw = Example(nlp.make_doc(reference.text), reference)
    examples = list(augment(nlp, raw))
    assert examples[0] is raw
    assert _texts(examples[0].predicted)[:3] == ["New", "-", "York"]
    assert [_texts(eg.predicted) for eg in examples[1:]] == [
        ["New-York", "is", "big", "."],
        ["We", "like", "it", "."],
    ]
    assert [[t.pos_ for t in eg.reference] for eg in examples[1:]] == [
        ["PROPN", "AUX", "ADJ", "PUNCT"],
        ["PRON", "VERB", "PRON", "PUNCT"],
    ]
    assert all(not eg.predicted.has_annotation("SENT_START") for eg in examples[1:]), (
        "the pipeline sets sentences"
    )


def test_an_example_that_is_one_gold_sentence_on_gold_tokens_is_not_repeated():
    nlp = spacy.blank("en")
    augment = registry.augmenters.get("spacy_torch_tagger.with_gold_tokens.v1")()
    sentence = _reference(nlp)[0:4].as_doc()
    example = Example(
        Doc(nlp.vocab, words=_texts(sentence), spaces=[t.whitespace_ == " " for t in sentence]), sentence
    )
    assert list(augment(nlp, example)) == [example]


def test_spacys_corpus_with_the_augmenter_yields_each_doc_then_its_gold_sentences(tmp_path):
    nlp = spacy.blank("en")
    two_sentences = _reference(nlp)
    one_sentence = Doc(nlp.vocab, words=["Dogs", "bark", "."], spaces=[True, False, False])
    DocBin(docs=[two_sentences, one_sentence]).to_disk(tmp_path / "train.spacy")
    config = {"@augmenters": "spacy_torch_tagger.with_gold_tokens.v1"}
    augment = registry.resolve({"augmenter": config})["augmenter"]
    examples = list(Corpus(tmp_path / "train.spacy", gold_preproc=False, augmenter=augment)(nlp))
    assert [_texts(eg.predicted) for eg in examples] == [
        ["New", "-", "York", "is", "big", ".", "We", "like", "it", "."],
        ["New-York", "is", "big", "."],
        ["We", "like", "it", "."],
        ["Dogs", "bark", "."],
    ]
