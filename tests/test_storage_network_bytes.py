# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe as a Doc -> Doc callable, not as TorchTagger.)
"""The shim's own bytes (saved_network.py): everything the network is rebuilt from,
each part checksummed, loaded by thinc's public Model.from_bytes alone."""

from typing import Any, Dict, List

import numpy
import pytest
import spacy
import srsly
import torch
from thinc.api import Model

from spacy_torch_tagger.layers.architectures import (
    build_lstm_network,
    build_token_features,
    build_torch_tagger_v2,
)
from spacy_torch_tagger.layers.storage.saved_network import FORMAT, SavedNetwork, SavedNetworkError
from spacy_torch_tagger.layers.tagger_model import checkpoint_of, network_of, set_label_counts, tagger_shim

from conftest import REPO

TEXTS = ["The dog ate the apple.", "She smiled at me."]
LABELS = {"tag": 5, "pos": 3}


def _model(hidden_width: int = 4, vocab_rows: int = 50) -> Model:
    features = build_token_features(vocab_rows=vocab_rows, rows=[10, 10, 10], char_rows=20)
    network = build_lstm_network(embed_width=4, char_embed_width=2, char_width=4, hidden_width=hidden_width)
    return build_torch_tagger_v2(features, network)


def _docs() -> List[Any]:
    nlp = spacy.blank("en")
    return [nlp.make_doc(text) for text in TEXTS]


def _trained_model() -> Model:
    model = _model()
    set_label_counts(model, LABELS)
    model.initialize(X=_docs())
    return model


def _saved(**changes: Any) -> SavedNetwork:
    parts: Dict[str, Any] = {
        "builder": {"@architectures": "x.v1", "width": 4},
        "features": {"vocab_rows": 50},
        "n_labels": {"tag": 5},
        "checkpoint": b"checkpoint files",
        "weights": b"weight bytes",
    }
    return SavedNetwork(**{**parts, **changes})


def _flip_inside(data: bytes, part: bytes) -> bytes:
    """The bytes with one byte flipped in the middle of `part`."""
    damaged = bytearray(data)
    damaged[data.index(part) + len(part) // 2] ^= 0x01
    return bytes(damaged)


def test_the_saved_network_round_trips():
    saved = _saved()
    assert SavedNetwork.from_bytes(saved.to_bytes()) == saved
    untrained = _saved(n_labels={}, checkpoint=None, weights=None, builder=None)
    assert SavedNetwork.from_bytes(untrained.to_bytes()) == untrained


@pytest.mark.parametrize("part, inside", [("network", b'"width":4'), ("weights", b"weight bytes")])
def test_a_flipped_byte_in_the_description_or_the_weights_fails_its_checksum(part, inside):
    damaged = _flip_inside(_saved().to_bytes(), inside)
    with pytest.raises(SavedNetworkError, match=f"the {part} part of the network is damaged: its SHA-256"):
        SavedNetwork.from_bytes(damaged)


def test_a_part_that_lost_its_checksum_is_refused():
    message = srsly.msgpack_loads(_saved().to_bytes())
    del message["sha256"]["weights"]
    with pytest.raises(SavedNetworkError, match="weights part of the network is damaged"):
        SavedNetwork.from_bytes(srsly.msgpack_dumps(message))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x80\x04garbage", "not in the spacy_torch_tagger.network.v3 format"),
        (srsly.msgpack_dumps([1, 2]), "not in the spacy_torch_tagger.network.v3 format"),
        (
            srsly.msgpack_dumps({"config": {}, "state": b""}),
            "saved by spacy-torch-tagger 0.3.0 or earlier.*spacy.load",
        ),
        (
            srsly.msgpack_dumps({"format": "spacy_torch_tagger.network.v9"}),
            "'spacy_torch_tagger.network.v9'.*does not read",
        ),
        (srsly.msgpack_dumps({"format": FORMAT, "network": "text"}), "its parts are not bytes"),
    ],
)
def test_bytes_of_another_kind_are_named(data, message):
    with pytest.raises(SavedNetworkError, match=message):
        SavedNetwork.from_bytes(data)


@pytest.mark.parametrize("n_labels", [{"tag": 0}, {"tag": "5"}, {"tag": 2.0}, ["tag"]])
def test_damaged_label_counts_are_named(n_labels):
    with pytest.raises(SavedNetworkError, match="label counts are damaged"):
        SavedNetwork.from_bytes(_saved(n_labels=n_labels).to_bytes())


def test_label_counts_without_weights_are_refused():
    with pytest.raises(SavedNetworkError, match=r"label counts \{'tag': 5\} with no weights"):
        SavedNetwork.from_bytes(_saved(weights=None).to_bytes())


def test_each_setting_that_differs_from_the_config_is_named():
    saved = _saved()
    saved.check_config({"@architectures": "x.v1", "width": 4}, {"vocab_rows": 50})
    with pytest.raises(
        SavedNetworkError, match=r"network\.width = 4 \(the config: 8\); features\.vocab_rows"
    ):
        saved.check_config({"@architectures": "x.v1", "width": 8}, {"vocab_rows": 60})
    saved.check_config(None, {"vocab_rows": 50})  # a builder that records nothing is not checked
    _saved(builder=None, features=None).check_config({"width": 8}, {"vocab_rows": 60})


def test_thincs_public_from_bytes_rebuilds_the_network():
    trained = _trained_model()
    fresh = _model()
    assert network_of(fresh) is None
    fresh.from_bytes(trained.to_bytes())
    assert tagger_shim(fresh).n_labels == LABELS
    for before, after in zip(trained.predict(_docs()), fresh.predict(_docs()), strict=True):
        assert numpy.array_equal(before, after)


def test_thincs_public_from_bytes_rebuilds_a_network_on_a_pretrained_encoder():
    """The checkpoint's kept files travel in the shim's bytes, not in the model's attrs."""
    pytest.importorskip("transformers", reason="the transformers extra is not installed")
    nlp = spacy.load(REPO / "tests" / "data" / "pipeline_0_2_0" / "transformer")
    trained = nlp.get_pipe("torch_tagger").model
    data = trained.to_bytes()
    assert "checkpoint" not in srsly.msgpack_loads(data)["attrs"][0]
    fresh = type(nlp).from_config(nlp.config).get_pipe("torch_tagger").model
    fresh.from_bytes(data)
    assert checkpoint_of(fresh).files == checkpoint_of(trained).files
    docs = [nlp.make_doc(text) for text in TEXTS]
    for before, after in zip(trained.predict(docs), fresh.predict(docs), strict=True):
        assert numpy.array_equal(before, after)


def test_a_flipped_byte_in_the_checkpoint_files_fails_their_own_checksum():
    pytest.importorskip("transformers", reason="the transformers extra is not installed")
    nlp = spacy.load(REPO / "tests" / "data" / "pipeline_0_2_0" / "transformer")
    model = nlp.get_pipe("torch_tagger").model
    kept = checkpoint_of(model).files["config.json"]
    damaged = _flip_inside(model.to_bytes(), kept)
    with pytest.raises(ValueError, match="checkpoint files are damaged: their checksum does not match"):
        type(nlp).from_config(nlp.config).get_pipe("torch_tagger").model.from_bytes(damaged)


def test_thincs_public_from_disk_rebuilds_the_network(tmp_path):
    trained = _trained_model()
    trained.to_disk(tmp_path / "model")
    fresh = _model().from_disk(tmp_path / "model")
    for before, after in zip(trained.predict(_docs()), fresh.predict(_docs()), strict=True):
        assert numpy.array_equal(before, after)


def test_weights_load_in_place_into_a_network_built_the_same_way():
    """As thinc's own PyTorchShim does: a torch optimizer over its parameters stays valid."""
    trained, other = _trained_model(), _trained_model()
    network = network_of(other)
    other.from_bytes(trained.to_bytes())
    assert network_of(other) is network
    for before, after in zip(trained.predict(_docs()), other.predict(_docs()), strict=True):
        assert numpy.array_equal(before, after)
    fewer = _model()
    set_label_counts(fewer, {"tag": 2, "pos": 3})
    fewer.initialize(X=_docs())
    network = network_of(fewer)
    fewer.shims[0].from_bytes(trained.shims[0].to_bytes())  # thinc's Model refuses another nO
    assert network_of(fewer) is not network and tagger_shim(fewer).n_labels == LABELS


def test_the_shim_bytes_hold_the_builder_features_and_label_counts():
    shim_bytes = _trained_model().shims[0].to_bytes()
    saved = SavedNetwork.from_bytes(shim_bytes)
    assert (
        saved.builder is not None and saved.builder["@architectures"] == "spacy_torch_tagger.LSTMNetwork.v1"
    )
    assert saved.builder["hidden_width"] == 4
    assert saved.features is not None and saved.features["vocab_rows"] == 50
    assert saved.n_labels == LABELS
    assert saved.checkpoint is None and saved.weights is not None


def test_an_untrained_network_round_trips_as_none():
    trained = _trained_model()
    trained.shims[0].from_bytes(_model().shims[0].to_bytes())
    assert network_of(trained) is None and tagger_shim(trained).n_labels == {}


def test_a_config_that_differs_is_refused_and_the_loaded_network_stays():
    trained = _trained_model()
    network = network_of(trained)
    other = _trained_model()
    wider = _model(hidden_width=6)
    with pytest.raises(SavedNetworkError, match=r"network\.hidden_width = 4 \(the config: 6\)"):
        wider.shims[0].from_bytes(trained.shims[0].to_bytes())
    saved = SavedNetwork.from_bytes(other.shims[0].to_bytes())
    with pytest.raises(SavedNetworkError, match="keeps pretrained checkpoint files but the config's network"):
        trained.shims[0].from_bytes(SavedNetwork(**{**saved.__dict__, "checkpoint": b"files"}).to_bytes())
    assert network_of(trained) is network


def test_settings_that_shape_no_weight_may_differ_in_the_config():
    """word_dropout (training) and vocab_min_count (the saved word table decides)
    may change for a trained network; the weights load as they are."""
    trained = _trained_model()
    features = build_token_features(vocab_rows=50, vocab_min_count=5, rows=[10, 10, 10], char_rows=20)
    network = build_lstm_network(
        embed_width=4, char_embed_width=2, char_width=4, hidden_width=4, word_dropout=0.5
    )
    other = build_torch_tagger_v2(features, network)
    other.shims[0].from_bytes(trained.shims[0].to_bytes())
    loaded, saved = network_of(other), network_of(trained)
    assert loaded is not None and saved is not None
    for (name, tensor), (_, expected) in zip(
        loaded.state_dict().items(), saved.state_dict().items(), strict=True
    ):
        assert torch.equal(tensor, expected), name
