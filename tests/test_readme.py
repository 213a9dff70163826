"""The README says what the code does: its config tables list every key with the
code's own default, and its bring-your-own network example trains."""

import inspect
import json
import re
from typing import Callable, Dict

import pytest
import spacy
from spacy.util import registry
from thinc.api import Adam

from spacy_torch_tagger.architectures import build_lstm_network, build_token_features, build_torch_tagger
from spacy_torch_tagger.factory import make_torch_tagger

from conftest import REPO, corpus_examples

README = (REPO / "README.md").read_text(encoding="utf8")


def _table(heading: str) -> Dict[str, str]:
    """key -> default column of the config table under a README heading."""
    section = README.split(heading, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z_0-9]+)` \| `([^`]*)` \|", section, flags=re.MULTILINE)
    assert rows, f"no config table under {heading!r}"
    return dict(rows)


def _config_value(value: object) -> str:
    """A Python default as it is written in a config."""
    return json.dumps(list(value) if isinstance(value, tuple) else value)


@pytest.mark.parametrize(
    "heading, function",
    [
        ("### `spacy_torch_tagger.TokenFeatures.v1`", build_token_features),
        ("### `spacy_torch_tagger.LSTMNetwork.v1`", build_lstm_network),
    ],
)
def test_architecture_tables_list_every_key_with_the_code_default(heading: str, function: Callable):
    documented = _table(heading)
    parameters = inspect.signature(function).parameters
    assert set(documented) == set(parameters)
    for name, parameter in parameters.items():
        assert documented[name] == _config_value(parameter.default), name


def test_model_table_lists_every_key():
    documented = _table("### `spacy_torch_tagger.TorchTagger.v1`")
    parameters = inspect.signature(build_torch_tagger).parameters
    assert set(documented) == set(parameters)
    assert documented["mixed_precision"] == _config_value(parameters["mixed_precision"].default)
    assert documented["int8_inference"] == _config_value(parameters["int8_inference"].default)


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


def test_the_bring_your_own_network_example_trains_and_tags():
    section = README.split("### Bring your own network", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    namespace: Dict[str, object] = {}
    exec(compile(code.group(1), "README example", "exec"), namespace)  # noqa: S102 (our own README)
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
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for step in range(60):
        nlp.update(examples[(step * 16) % len(examples) :][:16], sgd=optimizer)
    scores = nlp.evaluate(corpus_examples(nlp, "dev"))
    assert scores["pos_acc"] > 0.7, scores
