# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe as a Doc -> Doc callable, not as TorchTagger.)
"""Pipelines saved by 0.1.0, 0.2.0 and 0.3.0 (tests/data, see its README) load and tag
as recorded then; saved again, they are in the current layout; damaged ones are refused."""

import builtins
import io
import pickle
import shutil
from pathlib import Path
from typing import Any, Dict

import numpy
import pytest
import spacy
import srsly
import torch

from spacy_torch_tagger.layers.storage.legacy_weights import read_legacy_weights
from spacy_torch_tagger.layers.storage.saved_network import FORMAT, SavedNetwork
from spacy_torch_tagger.layers.storage.weights import WeightsError

DATA = Path(__file__).parent / "data"
PIPELINE_0_1_0 = DATA / "pipeline_0_1_0"
LSTM_0_2_0 = DATA / "pipeline_0_2_0" / "lstm"
TRANSFORMER_0_2_0 = DATA / "pipeline_0_2_0" / "transformer"
WITH_PROBABILITIES = {"components": {"torch_tagger": {"probabilities": True, "top_k": 3}}}


def _needs_transformers(path: Path) -> None:
    if path == TRANSFORMER_0_2_0:
        pytest.importorskip("transformers", reason="the transformers extra is not installed")


def _assert_tags_as_recorded(nlp: spacy.Language, expected: Dict[str, Any]) -> None:
    docs = [nlp(text) for text in expected["texts"]]
    assert [[t.tag_ for t in doc] for doc in docs] == expected["tags"]
    assert [[t.pos_ for t in doc] for doc in docs] == expected["pos"]
    scores = nlp.get_pipe("torch_tagger").model.predict([nlp.make_doc(text) for text in expected["texts"]])
    for doc_scores, recorded in zip(scores, expected["scores"], strict=True):
        assert numpy.allclose(doc_scores, numpy.asarray(recorded), atol=1e-5, rtol=0)
    if "probs" in expected:
        for doc, doc_probs, doc_top_k in zip(docs, expected["probs"], expected["top_k"], strict=True):
            for token, probs, top_k in zip(doc, doc_probs, doc_top_k, strict=True):
                assert token._.torch_tagger_probs == pytest.approx(probs, abs=1e-6)
                found = token._.torch_tagger_top_k
                assert {target: list(labels) for target, labels in found.items()} == {
                    target: list(labels) for target, labels in top_k.items()
                }, "the same labels in the same order"
                assert all(found[target] == pytest.approx(top_k[target], abs=1e-6) for target in top_k)


def _shim_message(path: Path) -> Dict[str, Any]:
    model = srsly.msgpack_loads((path / "torch_tagger" / "model").read_bytes())
    return {"attrs": model["attrs"][0], "shim": srsly.msgpack_loads(model["shims"][0][0])}


def test_a_pipeline_saved_by_0_1_0_loads_and_tags_as_it_did():
    """pipeline_0_1_0: two thinc nodes, weights format v1."""
    expected = srsly.read_json(PIPELINE_0_1_0 / "expected.json")
    nlp = spacy.load(PIPELINE_0_1_0)
    _assert_tags_as_recorded(nlp, expected)
    reloaded = type(nlp).from_config(nlp.config).from_bytes(nlp.to_bytes())
    _assert_tags_as_recorded(reloaded, expected)


@pytest.mark.parametrize("path", [LSTM_0_2_0, TRANSFORMER_0_2_0], ids=["lstm", "transformer"])
def test_a_pipeline_saved_by_0_2_0_loads_and_tags_as_it_did(path):
    """One node; thinc's shim bytes with weights format v2; the checkpoint in the attrs."""
    _needs_transformers(path)
    expected = srsly.read_json(path / "expected.json")
    assert "checkpoint" in _shim_message(path)["attrs"] and "state" in _shim_message(path)["shim"]
    nlp = spacy.load(path, config=WITH_PROBABILITIES)
    assert (
        nlp.get_pipe("torch_tagger").temperatures
        == srsly.read_json(path / "torch_tagger" / "cfg")["temperatures"]
    )
    _assert_tags_as_recorded(nlp, expected)


@pytest.mark.parametrize(
    "path", [PIPELINE_0_1_0, LSTM_0_2_0, TRANSFORMER_0_2_0], ids=["0.1.0", "lstm", "trf"]
)
def test_an_old_pipeline_saved_again_is_in_the_current_layout_and_tags_the_same(path, tmp_path):
    _needs_transformers(path)
    expected = srsly.read_json(path / "expected.json")
    spacy.load(path).to_disk(tmp_path / "again")
    saved = _shim_message(tmp_path / "again")
    assert "checkpoint" not in saved["attrs"] and saved["shim"]["format"] == FORMAT
    network = SavedNetwork.from_bytes(srsly.msgpack_dumps(saved["shim"]))
    assert (network.checkpoint is not None) == (path == TRANSFORMER_0_2_0)
    nlp = spacy.load(tmp_path / "again", config=WITH_PROBABILITIES if "probs" in expected else {})
    _assert_tags_as_recorded(nlp, expected)


def _copy(path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(path, tmp_path / path.name))


def _rewrite_model(path: Path, change) -> None:
    model_file = path / "torch_tagger" / "model"
    model = srsly.msgpack_loads(model_file.read_bytes())
    change(model)
    model_file.write_bytes(srsly.msgpack_dumps(model))


def _set_state(model: Dict[str, Any], state: bytes) -> None:
    shim = srsly.msgpack_loads(model["shims"][0][0])
    shim["state"] = state
    model["shims"][0][0] = srsly.msgpack_dumps(shim)


def test_a_flipped_byte_in_a_0_2_0_weight_fails_its_checksum(tmp_path):
    path = _copy(LSTM_0_2_0, tmp_path)

    def flip(model: Dict[str, Any]) -> None:
        state = srsly.msgpack_loads(srsly.msgpack_loads(model["shims"][0][0])["state"])
        name, dtype, shape, raw = state["tensors"][0]
        state["tensors"][0] = [name, dtype, shape, bytes([raw[0] ^ 0x01]) + raw[1:]]
        _set_state(model, srsly.msgpack_dumps(state))

    _rewrite_model(path, flip)
    with pytest.raises(ValueError, match="could not load its model.*weights are damaged: their SHA-256"):
        spacy.load(path)


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_OLD_MODEL = True",))


def test_a_pickle_as_0_2_0_weights_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    path = _copy(LSTM_0_2_0, tmp_path)
    buffer = io.BytesIO()
    torch.save({"heads.tag.weight": _RunsCode()}, buffer)
    _rewrite_model(path, lambda model: _set_state(model, buffer.getvalue()))
    unpickled = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(a))
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(ValueError, match="could not load its model.*unpickling can run code"):
        spacy.load(path)
    assert not hasattr(builtins, "PWNED_BY_OLD_MODEL") and unpickled == []


@pytest.mark.parametrize("counts", [{"tag": 0, "pos": 12}, {"tag": "16"}, [16, 12]])
def test_damaged_0_2_0_label_counts_are_named(tmp_path, counts):
    path = _copy(LSTM_0_2_0, tmp_path)

    def damage(model: Dict[str, Any]) -> None:
        model["attrs"][0]["n_labels"] = srsly.msgpack_dumps(counts)

    _rewrite_model(path, damage)
    with pytest.raises(ValueError, match="could not load its model.*label counts are damaged"):
        spacy.load(path)


def test_a_damaged_0_2_0_checkpoint_is_named(tmp_path):
    pytest.importorskip("transformers", reason="the transformers extra is not installed")
    path = _copy(TRANSFORMER_0_2_0, tmp_path)

    def damage(model: Dict[str, Any]) -> None:
        model["attrs"][0]["checkpoint"] = model["attrs"][0]["checkpoint"][:-10]

    _rewrite_model(path, damage)
    with pytest.raises(ValueError, match="could not load its model.*checkpoint files"):
        spacy.load(path)


def test_a_truncated_0_2_0_model_file_is_refused(tmp_path):
    path = _copy(LSTM_0_2_0, tmp_path)
    model_file = path / "torch_tagger" / "model"
    model_file.write_bytes(model_file.read_bytes()[:-100])
    with pytest.raises(ValueError, match="could not load its model.*not a saved torch_tagger model"):
        spacy.load(path)


def _v1(network: torch.nn.Module) -> bytes:
    tensors = {name: tensor.numpy() for name, tensor in network.state_dict().items()}
    return srsly.msgpack_dumps({"format": "spacy_torch_tagger.weights.v1", "tensors": tensors})


def test_weights_v1_read_as_saved():
    network = torch.nn.Linear(4, 3)
    arrays = read_legacy_weights(_v1(network))
    assert all(numpy.array_equal(arrays[k], v.numpy()) for k, v in network.state_dict().items())


@pytest.mark.parametrize(
    "message, error",
    [
        ({"format": "spacy_torch_tagger.weights.v1", "tensors": {"a": "text"}}, "names to numeric arrays"),
        ({"format": "spacy_torch_tagger.weights.v2", "tensors": [["a", "object", [1], b""]]}, "list of"),
        (
            {"format": "spacy_torch_tagger.weights.v2", "tensors": [], "sha256": "0"},
            "checksum does not match",
        ),
        ({"format": "something else"}, "not in the spacy_torch_tagger.weights.v2 format"),
    ],
)
def test_damaged_legacy_weights_are_named(message, error):
    with pytest.raises(WeightsError, match=error):
        read_legacy_weights(srsly.msgpack_dumps(message))
