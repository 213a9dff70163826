# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""TorchTagger.v2 (`precision` only) is the default; configs with TorchTagger.v1
(`mixed_precision` beside it) still fill, train, save and load."""

import inspect
import json
import re
import warnings
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.cli.init_config import fill_config
from spacy.cli.train import train
from thinc.api import Config

from spacy_torch_tagger.layers.architectures import build_torch_tagger, build_torch_tagger_v2
from spacy_torch_tagger.layers.tagger_model import tagger_shim

from conftest import CORPUS, REPO, SMALL_MODEL, train_pipeline

V1 = "spacy_torch_tagger.TorchTagger.v1"
V2 = "spacy_torch_tagger.TorchTagger.v2"
DEMO_CONFIG = REPO / "configs" / "demo.cfg"
SHIPPED_V1_CONFIG = REPO / "configs" / "ewt_fast.cfg"
TEXTS = ["The dog ate the apple.", "She smiled at me."]
BASE = """
[nlp]
lang = "en"
pipeline = ["torch_tagger"]

[components]

[components.torch_tagger]
factory = "torch_tagger"
targets = ["tag", "pos"]
"""


def _model_block(path: Path) -> dict:
    return Config().from_disk(path)["components"]["torch_tagger"]["model"]


def test_add_pipe_gives_the_v2_model():
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger")
    model = nlp.get_pipe_config("torch_tagger")["model"]
    assert model["@architectures"] == V2
    assert "mixed_precision" not in model and model["precision"] == "float32"


def test_fill_config_fills_a_v2_block(tmp_path):
    (tmp_path / "base.cfg").write_text(BASE)
    fill_config(tmp_path / "full.cfg", tmp_path / "base.cfg", silent=True)
    model = _model_block(tmp_path / "full.cfg")
    assert model["@architectures"] == V2
    assert {key for key in model if not isinstance(model[key], dict)} == {
        "@architectures",
        "int8_inference",
        "precision",
    }


def test_fill_config_keeps_the_v1_block_of_a_shipped_config(tmp_path):
    fill_config(tmp_path / "full.cfg", SHIPPED_V1_CONFIG, silent=True)
    model = _model_block(tmp_path / "full.cfg")
    assert model["@architectures"] == V1 and model["mixed_precision"] is False


def test_the_bundled_configs_name_v2():
    for name in ("demo.cfg", "tutorial.cfg"):
        model = _model_block(REPO / "configs" / name)
        assert model["@architectures"] == V2 and "mixed_precision" not in model, name


@pytest.mark.slow
def test_a_v1_config_trains_with_spacy_train_and_loads(tmp_path):
    config = Config().from_disk(DEMO_CONFIG, interpolate=False)
    model = config["components"]["torch_tagger"]["model"]
    model["@architectures"] = V1
    model["mixed_precision"] = False
    del model["precision"]
    config.to_disk(tmp_path / "v1.cfg", interpolate=False)
    overrides = {
        "paths.train": str(CORPUS / "train.spacy"),
        "paths.dev": str(CORPUS / "dev.spacy"),
        "training.max_steps": 20,
        "training.eval_frequency": 20,
    }
    train(tmp_path / "v1.cfg", tmp_path / "output", overrides=overrides)
    nlp = spacy.load(tmp_path / "output" / "model-last")
    assert nlp.get_pipe_config("torch_tagger")["model"]["@architectures"] == V1
    assert all(token.tag_ and token.pos_ for doc in nlp.pipe(TEXTS) for token in doc)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_v1_pipeline_saves_and_loads_with_identical_scores(tmp_path, precision):
    model = {
        "@architectures": V1,
        "features": {"@architectures": "spacy_torch_tagger.TokenFeatures.v1", **SMALL_MODEL["features"]},
        "network": {"@architectures": "spacy_torch_tagger.LSTMNetwork.v1", **SMALL_MODEL["network"]},
        "precision": precision,
    }
    nlp = train_pipeline(["tag", "pos"], steps=5, config=model)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe_config("torch_tagger")["model"]["@architectures"] == V1
    assert tagger_shim(loaded.get_pipe("torch_tagger").model).bfloat16 is (precision == "bfloat16")
    docs = [nlp.make_doc(text) for text in TEXTS]
    before = nlp.get_pipe("torch_tagger").model.predict(docs)
    after = loaded.get_pipe("torch_tagger").model.predict(docs)
    assert all(numpy.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_v1_mixed_precision_is_v2_float16():
    from spacy_torch_tagger.layers.architectures import build_lstm_network, build_token_features

    features, network = build_token_features(), build_lstm_network()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v1 = build_torch_tagger(features, network, mixed_precision=True)
        v2 = build_torch_tagger_v2(features, network, precision="float16")
    if not __import__("torch").cuda.is_available():
        messages = [str(warning.message) for warning in caught]
        assert len(messages) == 2 and messages[0] == messages[1] and "needs a CUDA GPU" in messages[0]
    assert tagger_shim(v1).mixed_precision == tagger_shim(v2).mixed_precision
    with pytest.raises(ValueError, match="mixed_precision = true means float16"):
        build_torch_tagger(features, network, mixed_precision=True, precision="bfloat16")


def test_v2_has_no_mixed_precision_key():
    nlp = spacy.blank("en")
    with pytest.raises(Exception, match="mixed_precision"):
        nlp.add_pipe("torch_tagger", config={"model": {"mixed_precision": True}})


def test_the_configuration_table_lists_every_v2_key_with_its_default():
    readme = (REPO / "docs" / "configuration.md").read_text(encoding="utf8")
    section = readme.split(f"### `{V2}`", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z_0-9]+)` \| `([^`]*)` \|", section, flags=re.MULTILINE))
    parameters = inspect.signature(build_torch_tagger_v2).parameters
    assert set(rows) == set(parameters)
    for key in ("int8_inference", "precision"):
        assert rows[key] == json.dumps(parameters[key].default), key
