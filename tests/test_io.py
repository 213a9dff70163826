# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Saving and loading: identical scores after a round trip, clear errors for damaged or hostile files."""

import builtins
import pickle
from pathlib import Path

import numpy
import pytest
import spacy
import srsly

from spacy_torch_tagger.known_words import KnownWords
from spacy_torch_tagger.tagger_model import network_of

from conftest import SMALL_MODEL, corpus_examples

TEXTS = ["The dog ate the apple.", "Everybody read that book.", "She smiled at me."]


def _scores(nlp):
    tagger = nlp.get_pipe("torch_tagger")
    return tagger.model.predict([nlp.make_doc(text) for text in TEXTS])


def test_disk_round_trip_gives_identical_scores(trained_nlp, tmp_path):
    trained_nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    for before, after in zip(_scores(trained_nlp), _scores(loaded), strict=True):
        assert numpy.array_equal(before, after)
    assert loaded.get_pipe("torch_tagger").label_data == trained_nlp.get_pipe("torch_tagger").label_data
    before = trained_nlp.evaluate(corpus_examples(trained_nlp, "dev"))
    after = loaded.evaluate(corpus_examples(loaded, "dev"))
    assert {k: v for k, v in before.items() if k != "speed"} == {
        k: v for k, v in after.items() if k != "speed"
    }


def test_bytes_round_trip_gives_identical_scores(trained_nlp):
    data = trained_nlp.to_bytes()
    clone = spacy.blank("en")
    config = {k: v for k, v in trained_nlp.get_pipe_config("torch_tagger").items() if k != "factory"}
    clone.add_pipe("torch_tagger", config=config)
    clone.from_bytes(data)
    for before, after in zip(_scores(trained_nlp), _scores(clone), strict=True):
        assert numpy.array_equal(before, after)


def test_weights_are_stored_without_pickle(trained_nlp, tmp_path):
    trained_nlp.to_disk(tmp_path / "pipeline")
    model = srsly.msgpack_loads((tmp_path / "pipeline" / "torch_tagger" / "model").read_bytes())
    shim = srsly.msgpack_loads(model["shims"][0][0])
    weights = srsly.msgpack_loads(shim["state"])
    assert weights["format"] == "spacy_torch_tagger.weights.v2"
    assert len(weights["sha256"]) == 64
    assert all(isinstance(raw, bytes) for _, _, _, raw in weights["tensors"])
    assert b"torch._utils" not in shim["state"] and b"\x80\x02" not in shim["state"][:2]


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_MODEL = True",))


def _replace_weights(model_file: Path, payload: bytes) -> None:
    model = srsly.msgpack_loads(model_file.read_bytes())
    shim = srsly.msgpack_loads(model["shims"][0][0])
    shim["state"] = payload
    model["shims"][0][0] = srsly.msgpack_dumps(shim)
    model_file.write_bytes(srsly.msgpack_dumps(model))


def test_a_malicious_pickle_as_weights_is_refused_and_runs_nothing(trained_nlp, tmp_path):
    import torch

    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    buffer = __import__("io").BytesIO()
    torch.save({"heads.tag.weight": _RunsCode()}, buffer)
    _replace_weights(path / "torch_tagger" / "model", buffer.getvalue())
    with pytest.raises(ValueError, match="refused because unpickling can run code"):
        spacy.load(path)
    assert not hasattr(builtins, "PWNED_BY_MODEL")


def test_a_pickle_as_the_whole_model_file_is_refused_and_runs_nothing(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    (path / "torch_tagger" / "model").write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(ValueError, match="could not load its model.*not a saved torch_tagger model"):
        spacy.load(path)
    assert not hasattr(builtins, "PWNED_BY_MODEL")


def test_a_truncated_model_file_is_a_clear_error(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match="torch_tagger 'torch_tagger' could not load its model from"):
        spacy.load(path)


def test_a_damaged_cfg_is_a_clear_error(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    (path / "torch_tagger" / "cfg").write_text("{not json")
    with pytest.raises(ValueError, match="could not parse"):
        spacy.load(path)


def test_weights_that_do_not_fit_the_config_are_a_clear_error(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    config = (path / "config.cfg").read_text().replace("hidden_width = 32", "hidden_width = 48")
    (path / "config.cfg").write_text(config)
    with pytest.raises(ValueError, match="do not fit|expects"):
        spacy.load(path)


def test_changed_targets_are_a_clear_error(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    config = (path / "config.cfg").read_text().replace('targets = ["tag", "pos"]', 'targets = ["tag"]')
    (path / "config.cfg").write_text(config)
    with pytest.raises(ValueError, match="saved with targets"):
        spacy.load(path)


def test_an_untrained_pipeline_saves_and_loads(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"model": SMALL_MODEL})
    nlp.to_disk(tmp_path / "blank")
    loaded = spacy.load(tmp_path / "blank")
    assert loaded.get_pipe("torch_tagger").labels == ()


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_bytes_flipped_in_the_middle_of_the_model_file_are_refused(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    _flip_byte(model_file, len(model_file.read_bytes()) // 2)
    with pytest.raises(ValueError, match="could not load its model") as error:
        spacy.load(path)
    assert isinstance(error.value.__cause__, ValueError), "the cause stays chained"


def test_a_flipped_byte_in_a_weight_fails_the_checksum(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    network = network_of(trained_nlp.get_pipe("torch_tagger").model)
    assert network is not None
    raw = network.state_dict()["encoder.layers.0.weight_hh_l0"].numpy().tobytes()
    offset = model_file.read_bytes().index(raw) + len(raw) // 2
    _flip_byte(model_file, offset)
    with pytest.raises(ValueError, match="checksum does not match"):
        spacy.load(path)


def test_a_flipped_byte_in_the_known_words_fails_the_checksum(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    keys = trained_nlp.get_pipe("torch_tagger").model.attrs["known_words"].keys
    raw = keys.astype("<u8").tobytes()
    _flip_byte(model_file, model_file.read_bytes().index(raw) + len(raw) // 2)
    with pytest.raises(ValueError, match="known-word table is damaged"):
        spacy.load(path)


def test_a_bug_while_loading_is_not_reported_as_a_damaged_model(trained_nlp, tmp_path, monkeypatch):
    """Only damaged or foreign data becomes 'could not load its model'; anything else propagates."""
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)

    def broken(data: bytes) -> None:
        raise RuntimeError("a bug in the loader")

    monkeypatch.setattr(KnownWords, "from_bytes", staticmethod(broken))
    with pytest.raises(RuntimeError, match="a bug in the loader"):
        spacy.load(path)


def test_a_pipeline_saved_by_0_1_0_loads_and_tags_as_it_did():
    """tests/data/pipeline_0_1_0 was written by spacy-torch-tagger 0.1.0 (two thinc
    nodes, weights format v1); expected.json holds its tags and scores then."""
    path = Path(__file__).parent / "data" / "pipeline_0_1_0"
    expected = srsly.read_json(path / "expected.json")
    nlp = spacy.load(path)
    docs = [nlp(text) for text in expected["texts"]]
    assert [[t.tag_ for t in doc] for doc in docs] == expected["tags"]
    assert [[t.pos_ for t in doc] for doc in docs] == expected["pos"]
    scores = nlp.get_pipe("torch_tagger").model.predict([nlp.make_doc(text) for text in expected["texts"]])
    for doc_scores, recorded in zip(scores, expected["scores"], strict=True):
        assert numpy.allclose(doc_scores, numpy.asarray(recorded), atol=1e-4)
    reloaded = type(nlp).from_config(nlp.config).from_bytes(nlp.to_bytes())
    assert [[t.tag_ for t in reloaded(text)] for text in expected["texts"]] == expected["tags"]
