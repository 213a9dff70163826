# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""tag and pos are two targets with their own labels, head, logits, probabilities
and temperature. The bundled corpus gives every token a Penn-style tag and a
universal POS that differ, so a swap of the two anywhere shows."""

import warnings
from typing import Any, Dict, List

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from spacy_torch_tagger.calibration.calibrate import calibrate
from spacy_torch_tagger.calibration.temperature_scaling import fit_temperature
from spacy_torch_tagger.layers.tagger_model import network_of, tagger_shim
from spacy_torch_tagger.pipeline.temperatures import softmax

from conftest import CORPUS, corpus_examples

TEXT = "The dog ate the apple ."
TEXT_TAGS = ["DT", "NN", "VBD", "DT", "NN", "."]
TEXT_POS = ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]


@pytest.fixture
def nlp(trained_nlp: Language) -> Language:
    """The session's tag + pos pipeline (each test restores what it changes)."""
    return trained_nlp


def _labels_in(split: str, attr: str) -> List[str]:
    vocab = spacy.blank("en").vocab
    return sorted(
        {
            getattr(t, attr)
            for doc in DocBin().from_disk(CORPUS / f"{split}.spacy").get_docs(vocab)
            for t in doc
        }
    )


def test_the_bundled_corpus_gives_every_token_a_tag_that_differs_from_its_pos():
    vocab = spacy.blank("en").vocab
    for split in ("train", "dev"):
        tokens = [t for doc in DocBin().from_disk(CORPUS / f"{split}.spacy").get_docs(vocab) for t in doc]
        assert tokens and all(t.tag_ and t.pos_ and t.tag_ != t.pos_ for t in tokens), split
    tags, pos = set(_labels_in("train", "tag_")), set(_labels_in("train", "pos_"))
    assert not tags & pos
    assert len(tags) > len(pos), "the fine tags split the coarse ones"


def _doc(nlp: Language, text: str = TEXT) -> Doc:
    return Doc(nlp.vocab, words=text.split())


def test_each_target_writes_its_own_labels(nlp):
    tagger = nlp.get_pipe("torch_tagger")
    assert tagger.label_data == {"tag": _labels_in("train", "tag_"), "pos": _labels_in("train", "pos_")}
    doc = nlp(_doc(nlp))
    assert [t.tag_ for t in doc] == TEXT_TAGS
    assert [t.pos_ for t in doc] == TEXT_POS
    scores = nlp.evaluate(corpus_examples(nlp, "dev"))
    assert scores["tag_acc"] > 0.7 and scores["pos_acc"] > 0.75, scores


def _split_logits(nlp: Language, docs: List[Doc]) -> Dict[str, numpy.ndarray]:
    """target -> (n_tokens, n_labels) logits of the docs, read from the model's columns."""
    tagger = nlp.get_pipe("torch_tagger")
    scores = numpy.concatenate([numpy.asarray(s) for s in tagger.model.predict(docs)])
    n_tag = len(tagger.label_data["tag"])
    return {"tag": scores[:, :n_tag], "pos": scores[:, n_tag:]}


def test_each_head_feeds_only_its_own_target(nlp):
    """A bias that forces one label on one head changes that target's labels only."""
    tagger = nlp.get_pipe("torch_tagger")
    network: Any = network_of(tagger.model)
    texts = ["The dog ate the apple .", "She smiled at me ."]
    before = [[(t.tag_, t.pos_) for t in nlp(_doc(nlp, text))] for text in texts]
    biases = {target: head.bias.detach().clone() for target, head in network.heads.items()}
    try:
        for target, label, index in (("pos", "ADJ", 1), ("tag", "CC", 0)):
            with torch.no_grad():
                network.heads[target].bias[tagger.label_data[target].index(label)] += 1000.0
            tagger_shim(tagger.model).weights_changed()
            after = [[(t.tag_, t.pos_) for t in nlp(_doc(nlp, text))] for text in texts]
            for old, new in zip(before, after, strict=True):
                assert all(pair[index] == label for pair in new), (target, new)
                assert [pair[1 - index] for pair in new] == [pair[1 - index] for pair in old], target
            before = after
    finally:
        with torch.no_grad():
            for target, bias in biases.items():
                network.heads[target].bias.copy_(bias)


def test_each_targets_probabilities_use_its_own_logits_and_temperature(nlp):
    tagger = nlp.get_pipe("torch_tagger")
    temperatures = {"tag": 0.4, "pos": 3.0}
    saved = tagger.temperatures
    tagger.set_temperatures(temperatures)
    tagger.probabilities, tagger.top_k = True, 3
    try:
        doc = nlp(_doc(nlp))
        logits = _split_logits(nlp, [_doc(nlp)])
    finally:
        tagger.set_temperatures(saved)
        tagger.probabilities, tagger.top_k = False, 0
    for target in ("tag", "pos"):
        labels = tagger.label_data[target]
        probs = softmax(logits[target], temperatures[target])
        for token, row in zip(doc, probs, strict=True):
            assert token._.torch_tagger_probs[target] == pytest.approx(row.max(), rel=1e-5)
            top = token._.torch_tagger_top_k[target]
            order = numpy.argsort(-row, kind="stable")[:3]
            assert list(top) == [labels[i] for i in order]
            assert list(top.values()) == pytest.approx(row[order].tolist(), rel=1e-5)


def _with_wrong_pos(examples: List[Example], labels: List[str]) -> List[Example]:
    """The examples with every other token's gold pos replaced by another label,
    so that pos is fitted a much higher temperature than tag."""
    changed = []
    for eg in examples:
        reference = eg.reference.copy()
        for token in reference:
            if token.i % 2:
                token.pos_ = labels[(labels.index(token.pos_) + 1) % len(labels)]
        changed.append(Example(eg.predicted, reference))
    return changed


def test_calibration_fits_each_target_on_its_own_gold_labels(nlp):
    tagger = nlp.get_pipe("torch_tagger")
    examples = _with_wrong_pos(corpus_examples(nlp, "dev"), tagger.label_data["pos"])
    saved = tagger.temperatures
    try:
        report = calibrate(nlp, examples)
        temperatures = tagger.temperatures
    finally:
        tagger.set_temperatures(saved)
    logits = _split_logits(nlp, [eg.predicted for eg in examples])
    fitted = {}
    for target, attr in (("tag", "tag_"), ("pos", "pos_")):
        labels = tagger.label_data[target]
        gold = numpy.asarray([labels.index(getattr(t, attr)) for eg in examples for t in eg.reference])
        fitted[target] = fit_temperature(logits[target], gold)
        assert temperatures[target] == pytest.approx(fitted[target], rel=1e-6)
        assert report.targets[target].temperature == pytest.approx(fitted[target], rel=1e-6)
        accuracy = float(numpy.mean(logits[target].argmax(axis=1) == gold))
        assert report.targets[target].accuracy == pytest.approx(accuracy)
    assert fitted["pos"] > 1.5 * fitted["tag"], "the two fits can be told apart"


def test_temperatures_and_labels_of_each_target_survive_saving(nlp, tmp_path):
    tagger = nlp.get_pipe("torch_tagger")
    saved = tagger.temperatures
    tagger.set_temperatures({"tag": 0.5, "pos": 2.5})
    try:
        nlp.to_disk(tmp_path / "pipeline")
    finally:
        tagger.set_temperatures(saved)
    loaded = spacy.load(tmp_path / "pipeline").get_pipe("torch_tagger")
    assert loaded.temperatures == {"tag": 0.5, "pos": 2.5}
    assert loaded.label_data == tagger.label_data


def _examples_with_tags_from_pos(nlp: Language) -> List[Example]:
    """The bundled corpus as `spacy convert` writes a treebank whose XPOS column is "_"."""
    examples = []
    for example in corpus_examples(nlp):
        reference = example.reference.copy()
        for token in reference:
            token.tag_ = token.pos_
        examples.append(Example(example.predicted, reference))
    return examples


def test_a_tag_target_over_tags_that_copy_pos_warns_and_names_the_targets_to_predict():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"]})
    examples = _examples_with_tags_from_pos(nlp)
    with pytest.warns(UserWarning, match=r"copy of UPOS.*targets = \[\"pos\"\]"):
        tagger.initialize(lambda: examples, nlp=nlp)


def test_tags_of_their_own_initialize_without_a_warning():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"]})
    examples = corpus_examples(nlp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tagger.initialize(lambda: examples, nlp=nlp)
    assert set(tagger.label_data["tag"]).isdisjoint(tagger.label_data["pos"])
