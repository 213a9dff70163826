# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Saving and loading: identical scores after a round trip, clear errors for damaged or hostile files."""

import builtins
import hashlib
import io
import pickle
from pathlib import Path
from typing import Any, Callable, Dict

import numpy
import pytest
import safetensors.torch
import spacy
import srsly
import torch

from spacy_torch_tagger.layers.known_words import KnownWords
from spacy_torch_tagger.layers.tagger_model import network_of

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


def _shim(model_file: Path) -> Dict[str, Any]:
    return srsly.msgpack_loads(srsly.msgpack_loads(model_file.read_bytes())["shims"][0][0])


def test_weights_are_a_safetensors_file_with_a_checksum(trained_nlp, tmp_path):
    trained_nlp.to_disk(tmp_path / "pipeline")
    shim = _shim(tmp_path / "pipeline" / "torch_tagger" / "model")
    assert shim["format"] == "spacy_torch_tagger.network.v3"
    assert shim["sha256"]["weights"] == hashlib.sha256(shim["weights"]).hexdigest()
    weights = safetensors.torch.load(shim["weights"])
    network = network_of(trained_nlp.get_pipe("torch_tagger").model)
    assert network is not None and weights.keys() == network.state_dict().keys()
    assert all(torch.equal(weights[name], tensor) for name, tensor in network.state_dict().items())
    assert srsly.json_loads(shim["network"])["n_labels"] == {"tag": 16, "pos": 12}


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_MODEL = True",))


def _change_shim(model_file: Path, change: Callable[[Dict[str, Any]], None]) -> None:
    model = srsly.msgpack_loads(model_file.read_bytes())
    shim = srsly.msgpack_loads(model["shims"][0][0])
    change(shim)
    model["shims"][0][0] = srsly.msgpack_dumps(shim)
    model_file.write_bytes(srsly.msgpack_dumps(model))


def _replace_weights(model_file: Path, payload: bytes, checksum: bool) -> None:
    """Put `payload` where the weights were, with its own SHA-256 (`checksum`) or the old one."""

    def replace(shim: Dict[str, Any]) -> None:
        shim["weights"] = payload
        if checksum:
            shim["sha256"]["weights"] = hashlib.sha256(payload).hexdigest()

    _change_shim(model_file, replace)


@pytest.mark.parametrize("checksum", [True, False], ids=["its own checksum", "the old checksum"])
def test_a_malicious_pickle_as_weights_is_refused_and_runs_nothing(
    trained_nlp, tmp_path, monkeypatch, checksum
):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    buffer = io.BytesIO()
    torch.save({"heads.tag.weight": _RunsCode()}, buffer)
    _replace_weights(path / "torch_tagger" / "model", buffer.getvalue(), checksum)
    unpickled = []
    for module, name in ((pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, lambda *args, **kwargs: unpickled.append(args))
    message = (
        "not a valid safetensors file.*unpickling can run code"
        if checksum
        else "weights part of the network is damaged"
    )
    with pytest.raises(ValueError, match=f"could not load its model.*{message}"):
        spacy.load(path)
    assert not hasattr(builtins, "PWNED_BY_MODEL")
    assert unpickled == [], "nothing was unpickled"


def test_truncated_weights_are_refused(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    weights = _shim(path / "torch_tagger" / "model")["weights"]
    _replace_weights(path / "torch_tagger" / "model", weights[: len(weights) // 2], checksum=True)
    with pytest.raises(ValueError, match="not a valid safetensors file.*incomplete metadata"):
        spacy.load(path)


def test_weights_with_a_tensor_missing_or_of_another_shape_are_named(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    original = model_file.read_bytes()
    tensors = safetensors.torch.load(_shim(model_file)["weights"])
    missing = {name: tensor for name, tensor in tensors.items() if name != "heads.pos.bias"}
    _replace_weights(model_file, safetensors.torch.save(missing), checksum=True)
    with pytest.raises(ValueError, match=r"missing \['heads\.pos\.bias'\]"):
        spacy.load(path)
    model_file.write_bytes(original)
    reshaped = {**tensors, "heads.pos.bias": torch.zeros(13)}
    _replace_weights(model_file, safetensors.torch.save(reshaped), checksum=True)
    with pytest.raises(ValueError, match=r"'heads\.pos\.bias' has shape \(13,\).*expects \(12,\)"):
        spacy.load(path)


@pytest.mark.parametrize(
    "counts, message",
    [
        (
            srsly.msgpack_dumps({"tag": 12, "pos": 16}),
            r"network was saved with label counts \{'tag': 16, 'pos': 12\}",
        ),
        (srsly.msgpack_dumps({"tag": -1, "pos": 12}), r"label counts are damaged \(found \{'tag': -1"),
        (b"\x82\xa3tag", "label counts are damaged"),
    ],
)
def test_label_counts_of_the_model_that_are_damaged_or_not_its_networks_are_refused(
    trained_nlp, tmp_path, counts, message
):
    path = _saved_with_edited_model(
        trained_nlp, tmp_path, lambda model: model["attrs"][0].update(n_labels=counts)
    )
    with pytest.raises(ValueError, match=f"could not load its model.*{message}"):
        spacy.load(path)


def _saved_with_edited_model(nlp, tmp_path: Path, edit: Callable[[Dict[str, Any]], Any]) -> Path:
    """`nlp` saved under tmp_path with `edit` applied to its component's decoded model file."""
    path = tmp_path / "pipeline"
    nlp.to_disk(path)
    model_file = path / "torch_tagger" / "model"
    model = srsly.msgpack_loads(model_file.read_bytes())
    edit(model)
    model_file.write_bytes(srsly.msgpack_dumps(model))
    return path


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


@pytest.mark.parametrize(
    "setting, changed, named",
    [
        ("hidden_width = 32", "hidden_width = 48", r"network\.hidden_width = 32 \(the config: 48\)"),
        ("depth = 1", "depth = 2", r"network\.depth = 1 \(the config: 2\)"),
        ("vocab_rows = 500", "vocab_rows = 400", r"features\.vocab_rows = 500 \(the config: 400\)"),
    ],
)
def test_a_config_that_differs_from_the_saved_network_is_named(
    trained_nlp, tmp_path, setting, changed, named
):
    """Also settings that change no shape: the weights were trained with the saved ones."""
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    config = (path / "config.cfg").read_text()
    assert setting in config
    (path / "config.cfg").write_text(config.replace(setting, changed))
    with pytest.raises(ValueError, match=f"could not load its model.*{named}"):
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
    with pytest.raises(
        ValueError, match="the weights part of the network is damaged: its SHA-256 checksum does not match"
    ):
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


def _pos_only_nlp():
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": SMALL_MODEL})
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def test_a_trained_component_loads_another_pipelines_labels():
    """thinc refuses to change a set dim (the output width); the saved one replaces it."""
    source = _pos_only_nlp()
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": SMALL_MODEL})
    nlp.initialize(lambda: corpus_examples(nlp)[:2])
    assert nlp.get_pipe("torch_tagger").label_counts() != source.get_pipe("torch_tagger").label_counts()
    nlp.from_bytes(source.to_bytes())
    assert nlp.get_pipe("torch_tagger").label_data == source.get_pipe("torch_tagger").label_data
    assert numpy.array_equal(_scores(nlp)[0], _scores(source)[0])


def test_a_failed_load_leaves_a_working_component_as_it_was(trained_nlp, tmp_path):
    other = spacy.blank("en")
    other.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    other.initialize(lambda: corpus_examples(other)[:2])
    other.to_disk(tmp_path / "other")
    # Its cfg loads and so does its model, which then disagrees with the cfg: both were taken.
    cfg = srsly.read_json(tmp_path / "other" / "torch_tagger" / "cfg")
    cfg["labels"]["tag"].pop()
    srsly.write_json(tmp_path / "other" / "torch_tagger" / "cfg", cfg)
    trained_nlp.to_disk(tmp_path / "trained")
    nlp = spacy.load(tmp_path / "trained")
    tagger = nlp.get_pipe("torch_tagger")
    before = _scores(nlp)
    with pytest.raises(ValueError, match="the model directory is inconsistent"):
        tagger.from_disk(tmp_path / "other" / "torch_tagger", exclude=["vocab"])
    assert tagger.cfg["labels"] == trained_nlp.get_pipe("torch_tagger").cfg["labels"]
    assert all(numpy.array_equal(a, b) for a, b in zip(_scores(nlp), before, strict=True))


def test_a_cfg_loaded_without_its_model_is_refused_and_nothing_changes(trained_nlp):
    """exclude=["model"] must not pair another pipeline's labels with this network."""
    nlp = spacy.blank("en").from_bytes(trained_nlp.to_bytes())
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    tagger = nlp.get_pipe("torch_tagger")
    tagger.from_bytes(trained_nlp.get_pipe("torch_tagger").to_bytes())
    before = _scores(nlp)
    other = spacy.blank("en")
    other.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    other.initialize(lambda: corpus_examples(other)[:2])
    apart = r"cfg and a model of different pipelines were loaded.*Load both from one pipeline"
    with pytest.raises(ValueError, match=apart):
        tagger.from_bytes(other.get_pipe("torch_tagger").to_bytes(), exclude=["model"])
    assert tagger.label_data == trained_nlp.get_pipe("torch_tagger").label_data
    assert all(numpy.array_equal(a, b) for a, b in zip(_scores(nlp), before, strict=True))


def test_a_restore_that_fails_too_reports_the_first_error(trained_nlp, tmp_path, monkeypatch):
    from spacy_torch_tagger.pipeline import persistence

    trained_nlp.to_disk(tmp_path / "pipeline")
    nlp = spacy.load(tmp_path / "pipeline")

    def broken(model, data):
        raise RuntimeError("first failure")

    monkeypatch.setattr(persistence, "load_model", broken)
    with pytest.warns(UserWarning, match="could not be put back"), pytest.raises(RuntimeError, match="first"):
        nlp.get_pipe("torch_tagger").from_disk(tmp_path / "pipeline" / "torch_tagger", exclude=["vocab"])


@pytest.mark.parametrize(
    "dims, refs, named",
    [({"nO": value}, {}, "dims or refs are damaged") for value in ("abc", -5, 1.5, True, [1, 2])]
    + [
        ({"nO": None, "nX": 3}, {}, "dims or refs are damaged"),
        ({"nO": None}, {"other": 0}, "dims or refs are damaged"),
        ({"nO": 10**6}, {}, r"output width nO = 1000000 is not the sum of its label counts"),
    ],
)
def test_damaged_dims_are_refused(trained_nlp, tmp_path, dims, refs, named):
    path = _saved_with_edited_model(
        trained_nlp, tmp_path, lambda model: model["nodes"][0].update(dims=dims, refs=refs)
    )
    with pytest.raises(ValueError, match=f"could not load its model.*{named}"):
        spacy.load(path)


def test_a_saved_cfg_with_labels_of_no_target_keeps_only_its_targets(trained_nlp, tmp_path):
    path = tmp_path / "pipeline"
    trained_nlp.to_disk(path)
    cfg = srsly.read_json(path / "torch_tagger" / "cfg")
    cfg["labels"]["morph"] = ["Number=Sing"]
    srsly.write_json(path / "torch_tagger" / "cfg", cfg)
    loaded = spacy.load(path)
    assert set(loaded.get_pipe("torch_tagger").cfg["labels"]) == {"tag", "pos"}
    assert [t.pos_ for t in loaded("The dog ate the apple.")] == [
        t.pos_ for t in trained_nlp("The dog ate the apple.")
    ]
