"""nlp.pipe and nlp() agree; odd, empty and huge input tags without error."""

import multiprocessing

import numpy
import pytest
from spacy.attrs import POS, TAG

TEXTS = [
    "The dog ate the apple.",
    "",
    "Everybody read that book.",
    "She smiled at me and the cat slept.",
    "   ",
    "Peter and Sue live in London.",
]


def _tags(docs):
    return [doc.to_array([TAG, POS]).tolist() for doc in docs]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_pipe_equals_call_for_any_batch_size(trained_nlp, batch_size):
    one_by_one = _tags(trained_nlp(text) for text in TEXTS)
    assert _tags(trained_nlp.pipe(TEXTS, batch_size=batch_size)) == one_by_one


def test_scores_do_not_depend_on_batch_neighbours(trained_nlp):
    tagger = trained_nlp.get_pipe("torch_tagger")
    docs = [trained_nlp.make_doc(text) for text in TEXTS]
    together = tagger.model.predict(docs)
    for doc, scores in zip(docs, together, strict=True):
        alone = tagger.model.predict([doc])[0]
        assert numpy.allclose(scores, alone, atol=1e-5)


def test_each_sentence_is_read_on_its_own_when_boundaries_are_set(trained_nlp):
    tagger = trained_nlp.get_pipe("torch_tagger")
    first, second = "The dog ate the apple .", "She smiled at me ."
    doc = trained_nlp.make_doc(f"{first} {second}")
    for token in doc:
        token.is_sent_start = token.i in (0, 6)
    sentenced = tagger.model.predict([doc])[0]
    alone = [tagger.model.predict([trained_nlp.make_doc(text)])[0] for text in (first, second)]
    assert numpy.allclose(sentenced, numpy.concatenate(alone), atol=1e-5)
    whole = tagger.model.predict([trained_nlp.make_doc(f"{first} {second}")])[0]
    assert not numpy.allclose(whole, sentenced, atol=1e-5)


def test_two_processes_give_the_same_result(trained_nlp):
    texts = TEXTS * 5
    expected = _tags(trained_nlp.pipe(texts))
    assert _tags(trained_nlp.pipe(texts, n_process=2, batch_size=4)) == expected


def test_two_spawned_processes_give_the_same_result(trained_nlp, monkeypatch):
    """Under spawn the pipeline is pickled into fresh interpreters."""
    import spacy.language

    monkeypatch.setattr(spacy.language, "mp", multiprocessing.get_context("spawn"))
    texts = TEXTS * 3
    expected = _tags(trained_nlp.pipe(texts))
    assert _tags(trained_nlp.pipe(texts, n_process=2, batch_size=4)) == expected


def test_a_batch_of_empty_and_blank_docs_is_tagged_as_each_alone(trained_nlp):
    docs = list(trained_nlp.pipe(["", " ", ""]))
    assert [len(doc) for doc in docs] == [0, 1, 0]
    alone = trained_nlp(" ")[0]
    assert (docs[1][0].tag_, docs[1][0].pos_) == (alone.tag_, alone.pos_)
    assert docs[1][0].tag_ in trained_nlp.get_pipe("torch_tagger").label_data["tag"]


def test_a_20000_token_doc_is_read_whole_and_tagged_like_its_sentence(trained_nlp):
    """A doc without sentence boundaries is one 20,000-token sequence for the LSTM.
    Every repetition of the sentence gets the same tags; its words get the tags of
    the sentence alone, and the last one, which ends the doc as the sentence alone
    ends, all of them (a "." followed by more text may read otherwise)."""
    sentence = "The dog ate the apple ."
    alone = [(token.tag_, token.pos_) for token in trained_nlp(sentence)]
    doc = trained_nlp(" ".join([sentence] * 3334))
    assert len(doc) == 3334 * len(alone)
    tagged = [(token.tag_, token.pos_) for token in doc]
    repetitions = [tuple(tagged[i : i + len(alone)]) for i in range(0, len(tagged), len(alone))]
    assert all(list(repetition[:-1]) == alone[:-1] for repetition in repetitions)
    assert list(repetitions[-1]) == alone
    assert len(set(repetitions[:-1])) == 1


@pytest.mark.parametrize(
    "text",
    [
        "zero\u200bwidth joiner\u200d here",
        "cafe\u0301 nai\u0308ve",
        "I love 😀🤖 and 👩‍👩‍👧",
        "مرحبا بالعالم שלום עולם",
        "bell\x07 and\x00null\x1b[31m",
        "x" * 5000,
        "\u202eRTL override\u202c text",
    ],
)
def test_odd_text_keeps_its_text_gets_known_labels_and_leaves_its_batch_alone(trained_nlp, text):
    labels = trained_nlp.get_pipe("torch_tagger").label_data
    doc = trained_nlp(text)
    assert doc.text == text and len(doc) > 0
    assert all(token.tag_ in labels["tag"] and token.pos_ in labels["pos"] for token in doc)
    # Beside ordinary sentences in one batch, neither the odd text nor they change tags.
    plain = "The dog ate the apple."
    batch = list(trained_nlp.pipe([plain, text, plain]))
    assert _tags(batch) == _tags([trained_nlp(plain), doc, trained_nlp(plain)])
