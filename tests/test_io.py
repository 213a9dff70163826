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
    shim = srsly.msgpack_loads(model["shims"][1][0])
    weights = srsly.msgpack_loads(shim["state"])
    assert weights["format"] == "spacy_torch_tagger.weights.v1"
    assert all(isinstance(array, numpy.ndarray) for array in weights["tensors"].values())


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_MODEL = True",))


def _replace_weights(model_file: Path, payload: bytes) -> None:
    model = srsly.msgpack_loads(model_file.read_bytes())
    shim = srsly.msgpack_loads(model["shims"][1][0])
    shim["state"] = payload
    model["shims"][1][0] = srsly.msgpack_dumps(shim)
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
    with pytest.raises(ValueError, match="could not read its model"):
        spacy.load(path)
    assert not hasattr(builtins, "PWNED_BY_MODEL")


def test_a_truncated_model_file_is_a_clear_error(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match="torch_tagger"):
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
