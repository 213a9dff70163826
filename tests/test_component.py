# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
from typing import Any

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import Adam

from spacy_torch_tagger.layers.tagger_model import network_of, tagger_shim

from conftest import SMALL_MODEL, corpus_examples, morph_examples, train_pipeline


def test_unknown_target_is_refused_at_construction():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r"'lemma'.*\['tag', 'pos', 'morph'\]"):
        nlp.add_pipe("torch_tagger", config={"targets": ["tag", "lemma"]})


@pytest.mark.parametrize("targets", [[], "tag", ["tag", "tag"]])
def test_malformed_targets_are_refused(targets):
    with pytest.raises(ValueError, match="targets"):
        spacy.blank("en").add_pipe("torch_tagger", config={"targets": targets})


def test_one_pass_sets_tag_and_pos(trained_nlp):
    doc = trained_nlp("The dog ate the apple.")
    assert [t.tag_ for t in doc] == ["DT", "NN", "VBD", "DT", "NN", "."]
    assert [t.pos_ for t in doc] == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]


def test_labels_are_kept_per_target(trained_nlp):
    tagger = trained_nlp.get_pipe("torch_tagger")
    data = tagger.label_data
    assert set(data) == {"tag", "pos"} and "NOUN" in data["pos"]
    assert tagger.labels == tuple(
        [f"tag:{label}" for label in data["tag"]] + [f"pos:{label}" for label in data["pos"]]
    )
    assert tagger.model.get_dim("nO") == len(data["tag"]) + len(data["pos"])


def test_scores_use_spacys_keys(trained_nlp):
    scores = trained_nlp.evaluate(corpus_examples(trained_nlp, "dev"))
    assert {"tag_acc", "pos_acc"} <= set(scores) and "morph_acc" not in scores
    assert scores["tag_acc"] > 0.7


def test_three_targets_trained_together_set_tag_pos_and_morph():
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos", "morph"], "model": SMALL_MODEL})
    examples = morph_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    doc = nlp("Dogs bark .")
    assert [t.tag_ for t in doc] == ["NNS", "VBP", "."]
    assert [t.pos_ for t in doc] == ["NOUN", "VERB", "PUNCT"]
    assert [str(t.morph) for t in doc] == ["Number=Plur", "Tense=Pres", ""]
    assert doc[2].has_morph()
    scores = nlp.evaluate(examples)
    assert scores["tag_acc"] == scores["pos_acc"] == scores["morph_acc"] == 1.0
    assert "Number" in scores["morph_per_feat"]


def test_tokens_without_a_value_are_masked_out_of_that_target():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    full = Example.from_dict(nlp.make_doc("a b c"), {"tags": ["X", "Y", "Z"], "pos": ["NOUN", "VERB", "ADJ"]})
    nlp.initialize(lambda: [full])
    partial = Example.from_dict(nlp.make_doc("a b c"), {"tags": ["X", "", "Z"], "pos": ["", "", "ADJ"]})
    scores, _ = tagger.model.begin_update([partial.predicted])
    _, d_scores = tagger.get_loss([partial], scores)
    n_tags = len(tagger.label_data["tag"])
    grad = d_scores[0]
    assert not grad[1, :n_tags].any(), "token 1 has no tag: no tag gradient"
    assert not grad[0, n_tags:].any() and not grad[1, n_tags:].any(), "tokens 0, 1 have no pos"
    assert grad[0, :n_tags].any() and grad[2, n_tags:].any()


def test_an_unknown_gold_label_is_a_clear_error():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"model": SMALL_MODEL})
    nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "Y"]})])
    surprise = Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "NEW"]})
    with pytest.raises(ValueError, match=r"'NEW'.*spacy init labels"):
        tagger.update([surprise])


def test_pos_labels_must_be_universal_tags():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": SMALL_MODEL})
    with pytest.raises(ValueError, match="not universal POS tags"):
        tagger.add_label("NNS")


def test_missing_target_annotation_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "morph"], "model": SMALL_MODEL})
    examples = [Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "Y"]})]
    with pytest.raises(ValueError, match=r"no labels for target\(s\) \['morph'\]"):
        nlp.initialize(lambda: examples)


def test_label_data_round_trips_through_initialize(trained_nlp):
    data = trained_nlp.get_pipe("torch_tagger").label_data
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    tagger.initialize(lambda: corpus_examples(nlp)[:2], nlp=nlp, labels=data)
    assert tagger.label_data == data


def test_labels_for_several_targets_need_a_mapping():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    with pytest.raises(ValueError, match="dict"):
        tagger.initialize(lambda: corpus_examples(nlp)[:2], nlp=nlp, labels=["NOUN"])


def test_add_label_needs_a_target_when_there_are_several():
    tagger = spacy.blank("en").add_pipe("torch_tagger", config={"targets": ["tag", "pos"]})
    with pytest.raises(ValueError, match="name the target"):
        tagger.add_label("NOUN")
    assert tagger.add_label("NOUN", target="pos") == 1
    assert tagger.add_label("NOUN", target="pos") == 0


def test_existing_values_are_kept_unless_overwrite(trained_nlp):
    tagger = trained_nlp.get_pipe("torch_tagger")
    doc = trained_nlp.make_doc("The dog ate the apple.")
    doc[1].tag_ = "KEEP"
    tagger(doc)
    assert doc[1].tag_ == "KEEP" and doc[2].tag_ == "VBD"
    tagger.cfg["overwrite"] = True
    try:
        doc = trained_nlp.make_doc("The dog ate the apple.")
        doc[1].tag_ = "KEEP"
        tagger(doc)
        assert doc[1].tag_ == "NN"
    finally:
        tagger.cfg["overwrite"] = False


def test_optimizer_averages_reach_the_torch_network():
    nlp = train_pipeline(["tag"], steps=0)
    tagger = nlp.get_pipe("torch_tagger")
    optimizer = Adam(0.01, use_averages=True)
    examples = corpus_examples(nlp)
    for _ in range(3):
        nlp.update(examples[:8], sgd=optimizer)
    network: Any = network_of(tagger.model)
    assert network is not None
    before = network.heads["tag"].weight.detach().clone()
    with nlp.use_params(optimizer.averages):
        during = network.heads["tag"].weight.detach().clone()
    after = network.heads["tag"].weight.detach().clone()
    shim_id = tagger_shim(tagger.model).id
    assert numpy.allclose(during.numpy(), optimizer.averages[(shim_id, "heads.tag.weight")])
    assert not numpy.allclose(during.numpy(), before.numpy())
    assert numpy.array_equal(before.numpy(), after.numpy())


def test_training_dropout_reaches_the_torch_dropout_layers():
    nlp = train_pipeline(["tag"], steps=0)
    tagger = nlp.get_pipe("torch_tagger")
    tagger.update(corpus_examples(nlp)[:4], drop=0.4)
    network = network_of(tagger.model)
    assert network is not None
    rates = {m.p for m in network.modules() if m.__class__.__name__ == "Dropout"}
    assert rates == {0.4}


def test_mixed_precision_on_cpu_warns_and_runs_in_full_precision():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this checks the CPU fallback")
    nlp = spacy.blank("en")
    with pytest.warns(UserWarning, match="mixed_precision"):
        tagger = nlp.add_pipe("torch_tagger", config={"model": {**SMALL_MODEL, "precision": "float16"}})
    shim = tagger_shim(tagger.model)
    assert shim.mixed_precision is False
    assert shim._grad_scaler._enabled is False, "gradient scaling must be off without CUDA"
    examples = corpus_examples(nlp)[:4]
    nlp.initialize(lambda: examples)
    scores, _ = tagger.model.begin_update([eg.predicted for eg in examples])
    assert scores[0].dtype == numpy.float32
    assert len(nlp("A short test.")) == 4


def test_updates_change_the_parameters_in_place():
    """The optimizer writes into the torch parameters; no new tensors per step
    (thinc's shim rebinds param.data every step, which grew memory)."""
    nlp = train_pipeline(["tag"], steps=0)
    network = network_of(nlp.get_pipe("torch_tagger").model)
    assert network is not None
    parameters = dict(network.named_parameters())
    pointers = {name: param.data_ptr() for name, param in parameters.items()}
    # The storage object itself: thinc's shim keeps the memory address but wraps it in a
    # new storage (via numpy) every step, and that chain is what kept memory alive.
    storages = {name: param.untyped_storage()._cdata for name, param in parameters.items()}
    before = {name: param.detach().clone() for name, param in parameters.items()}
    optimizer = Adam(0.01)
    for _ in range(3):
        nlp.update(corpus_examples(nlp)[:8], sgd=optimizer)
    after = dict(network.named_parameters())
    assert all(after[name] is parameters[name] for name in parameters)
    assert {name: param.data_ptr() for name, param in after.items()} == pointers
    assert {name: param.untyped_storage()._cdata for name, param in after.items()} == storages
    assert not torch.equal(before["heads.tag.weight"], after["heads.tag.weight"].detach())
