# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""int8_inference: tagging with an int8 copy that follows every weight change."""

import copy
from typing import Any

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from thinc.api import Adam

from spacy_torch_tagger.layers.network_input import docs_to_batch
from spacy_torch_tagger.layers.network_output import join_logits
from spacy_torch_tagger.layers.shim import TaggerShim
from spacy_torch_tagger.layers.tagger_model import tagger_shim
from spacy_torch_tagger.network.int8_lstm import Int8LSTM

from conftest import SMALL_MODEL, copy_pipeline, corpus_examples, train_pipeline

INT8_MODEL = {**SMALL_MODEL, "int8_inference": True}


def _shim(nlp) -> TaggerShim:
    return tagger_shim(nlp.get_pipe("torch_tagger").model)


def _tags(nlp, texts):
    return [[token.tag_ for token in doc] for doc in nlp.pipe(texts)]


@pytest.fixture(scope="module")
def int8_nlp(trained_nlp) -> Language:
    """A copy of the session's tag + pos pipeline that tags with an int8 copy."""
    return copy_pipeline(trained_nlp, {"model": {"int8_inference": True}})


@pytest.fixture(scope="module")
def other_int8_nlp() -> Language:
    """Another int8 tag + pos pipeline, trained from another seed (do not modify)."""
    return train_pipeline(["tag", "pos"], steps=60, config=copy.deepcopy(INT8_MODEL), seed=1)


def test_int8_tags_like_the_float_network(int8_nlp):
    texts = [eg.reference.text for eg in corpus_examples(int8_nlp, "dev")]
    shim = _shim(int8_nlp)
    int8_tags = _tags(int8_nlp, texts)
    int8_network: Any = shim.int8_network()
    assert isinstance(int8_network.encoder.layers[0], Int8LSTM)
    shim.int8_inference = False
    try:
        float_tags = _tags(int8_nlp, texts)
    finally:
        shim.int8_inference = True
    flat_int8 = [tag for doc in int8_tags for tag in doc]
    flat_float = [tag for doc in float_tags for tag in doc]
    assert len(flat_int8) == len(flat_float) > 100
    agreement = numpy.mean([a == b for a, b in zip(flat_int8, flat_float, strict=True)])
    assert agreement >= 0.97


def test_the_int8_copy_is_rebuilt_after_an_update_and_reused_otherwise():
    nlp = train_pipeline(["tag"], steps=5, config=copy.deepcopy(INT8_MODEL))
    shim = _shim(nlp)
    first = shim.int8_network()
    assert shim.int8_network() is first
    nlp("A dog barks.")
    assert shim.int8_network() is first
    nlp.update(corpus_examples(nlp)[:8], sgd=Adam(0.01))
    assert shim.int8_network() is not first


def test_use_params_tags_with_an_int8_copy_of_the_averages():
    nlp = train_pipeline(["tag"], steps=0, config=copy.deepcopy(INT8_MODEL))
    shim = _shim(nlp)
    optimizer = Adam(0.01, use_averages=True)
    for _ in range(3):
        nlp.update(corpus_examples(nlp)[:8], sgd=optimizer)
    current = shim.int8_network()
    with nlp.use_params(optimizer.averages):
        averaged: Any = shim.int8_network()
        averaged_head = averaged.heads["tag"].dequantized_weight()
    assert averaged is not current
    shim_id = shim.id
    expected = optimizer.averages[(shim_id, "heads.tag.weight")]
    assert numpy.allclose(averaged_head.numpy(), expected, atol=0.02 * numpy.abs(expected).max())
    assert shim.int8_network() is not averaged


def test_int8_inference_is_saved_with_the_pipeline(int8_nlp, tmp_path):
    texts = ["The cat sat on the mat.", "Dogs bark loudly at night."]
    int8_nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.config["components"]["torch_tagger"]["model"]["int8_inference"] is True
    assert _shim(loaded).int8_inference is True
    assert _tags(loaded, texts) == _tags(int8_nlp, texts)


def test_int8_inference_is_off_by_default():
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger")
    assert nlp.config["components"]["torch_tagger"]["model"]["int8_inference"] is False
    assert _shim(nlp).int8_inference is False


def test_int8_pipeline_in_two_forked_processes(int8_nlp):
    texts = [eg.reference.text for eg in corpus_examples(int8_nlp, "dev")][:16]
    expected = _tags(int8_nlp, texts)
    assert [[t.tag_ for t in doc] for doc in int8_nlp.pipe(texts, n_process=2, batch_size=4)] == expected


def _network_scores(nlp, network, texts) -> numpy.ndarray:
    """The joined logits of `network` for the texts, computed outside the pipeline."""
    model = nlp.get_pipe("torch_tagger").model
    docs = [nlp.make_doc(text) for text in texts]
    batch = docs_to_batch(docs, model.attrs["features"], model.attrs["known_words"], torch.device("cpu"))
    with torch.no_grad():
        logits = network.eval()(batch)
    return join_logits(logits, model.attrs["n_labels"], sum(len(doc) for doc in docs)).numpy()


def test_the_pipeline_predicts_with_the_int8_copy(int8_nlp):
    texts = ["The old man read a long book in the garden.", "Dogs bark loudly at night."]
    shim = _shim(int8_nlp)
    predicted = numpy.concatenate(
        int8_nlp.get_pipe("torch_tagger").model.predict([int8_nlp.make_doc(t) for t in texts])
    )
    from_int8 = _network_scores(int8_nlp, shim.int8_network(), texts)
    from_float = _network_scores(int8_nlp, shim.network, texts)
    assert numpy.array_equal(predicted, from_int8)
    assert not numpy.allclose(predicted, from_float, atol=1e-6)


@pytest.mark.parametrize("how", ["bytes", "disk"])
def test_loading_other_weights_replaces_the_int8_copy(int8_nlp, other_int8_nlp, tmp_path, how):
    """After from_bytes / from_disk the pipeline tags with the loaded weights,
    never with an int8 copy of the weights it had before."""
    texts = [eg.reference.text for eg in corpus_examples(int8_nlp, "dev")]
    expected = other_int8_nlp.get_pipe("torch_tagger").model.predict(
        [other_int8_nlp.make_doc(t) for t in texts]
    )
    int8_nlp.to_disk(tmp_path / "first")
    target = spacy.load(tmp_path / "first")
    model = target.get_pipe("torch_tagger").model
    before = model.predict([target.make_doc(t) for t in texts])  # builds the int8 copy of the first weights
    assert not all(numpy.array_equal(a, b) for a, b in zip(before, expected, strict=True))
    if how == "bytes":
        target.from_bytes(other_int8_nlp.to_bytes())
    else:
        other_int8_nlp.to_disk(tmp_path / "other")
        target.from_disk(tmp_path / "other")
    after = model.predict([target.make_doc(t) for t in texts])
    assert all(numpy.array_equal(a, b) for a, b in zip(after, expected, strict=True))


def test_thinc_model_from_bytes_replaces_the_int8_copy(int8_nlp, other_int8_nlp):
    """Loading weights into the same network object (thinc's Model.from_bytes,
    no rebuild) must drop the int8 copy of the weights it had before."""
    texts = ["The cat sat on the mat.", "Dogs bark loudly at night."]
    other_model = other_int8_nlp.get_pipe("torch_tagger").model
    expected = other_model.predict([other_int8_nlp.make_doc(t) for t in texts])
    model = int8_nlp.get_pipe("torch_tagger").model
    saved = model.to_bytes()
    try:
        model.predict([int8_nlp.make_doc(t) for t in texts])  # builds the int8 copy of the current weights
        network = _shim(int8_nlp).network
        model.from_bytes(other_model.to_bytes())
        assert _shim(int8_nlp).network is network, "thinc loads into the network in place"
        after = model.predict([int8_nlp.make_doc(t) for t in texts])
        assert all(numpy.array_equal(a, b) for a, b in zip(after, expected, strict=True))
    finally:
        model.from_bytes(saved)
