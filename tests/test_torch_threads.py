"""torch_threads: torch's thread count is set when the component first runs, and
the fork handler is registered when a component is created, never on import."""

import subprocess
import sys

import pytest
import spacy

IMPORT_THEN_CREATE = """
import os, sys
import spacy
calls = []
if sys.argv[1] == "record":
    register = os.register_at_fork

    def recording(**handlers):
        modules = sorted({handler.__module__ for handler in handlers.values()})
        if any(module.startswith("spacy_torch_tagger") for module in modules):
            calls.append(sorted(handlers))
        register(**handlers)

    os.register_at_fork = recording
else:
    del os.register_at_fork  # a platform that cannot fork
import spacy_torch_tagger
from spacy_torch_tagger.layers import architectures, tagger_model  # noqa: F401
from spacy_torch_tagger.pipeline import component, factory, torch_threads  # noqa: F401
print("after import:", len(calls))
nlp = spacy.blank("en")
nlp.add_pipe("torch_tagger")
nlp.add_pipe("torch_tagger", name="second")
print("after two components:", len(calls), calls)
"""

THREADS_AFTER_FIRST_RUN = """
import json, sys
import spacy, torch
from spacy.training import Example
torch.set_num_threads(3)
nlp = spacy.blank("en")
nlp.add_pipe("torch_tagger", config={"torch_threads": json.loads(sys.argv[1])})
before = torch.get_num_threads()
nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("a b"), {"tags": ["X", "Y"]})])
nlp("a b")
print(before, torch.get_num_threads())
"""


def _python(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_fork_handler_is_registered_once_by_the_first_component_not_by_imports():
    out = _python(IMPORT_THEN_CREATE, "record")
    assert "after import: 0" in out
    assert "after two components: 1 [['after_in_child']]" in out


def test_the_component_works_where_the_platform_cannot_fork():
    assert "after two components: 0" in _python(IMPORT_THEN_CREATE, "no-fork")


@pytest.mark.parametrize("setting, expected", [("1", "3 1"), ("2", "3 2"), ("null", "3 3")])
def test_torch_threads_is_applied_when_the_component_first_runs(setting, expected):
    assert _python(THREADS_AFTER_FIRST_RUN, setting).split() == expected.split()


@pytest.mark.parametrize("value", [0, -1, "2", 1.5, True])
def test_a_bad_torch_threads_names_the_key(value):
    """spaCy's own config validation refuses some types first; either way the key is named."""
    ours = r"torch_tagger torch_threads .*must be an integer >= 1"
    expected = ours + r"|torch_tagger -> torch_threads.* is not <class 'int'>"
    with pytest.raises(ValueError, match=expected):
        spacy.blank("en").add_pipe("torch_tagger", config={"torch_threads": value})


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        (
            "network",
            "hidden_width",
            "64",
            r"LSTMNetwork hidden_width must be an integer >= 1, got '64' \(str\)",
        ),
        ("network", "hidden_width", -5, r"LSTMNetwork hidden_width must be an integer >= 1, got -5"),
        ("network", "char_width", -3, r"LSTMNetwork char_width must be an integer >= 0, got -3"),
        ("features", "n_hashes", 9, r"TokenFeatures n_hashes must be an integer from 1 to 4, got 9"),
        ("features", "vocab_attr", "BOGUS", r"Unknown lexical attribute\(s\) \['BOGUS'\]"),
        ("features", "rows", [10, -1, 5], r"TokenFeatures rows .* must be an integer >= 1, got -1"),
    ],
)
def test_bad_values_fail_when_the_config_is_resolved(section, key, value, message):
    """Through spaCy's config resolution, before any training (so `spacy debug config` reports them)."""
    with pytest.raises(ValueError, match=message):
        spacy.blank("en").add_pipe("torch_tagger", config={"model": {section: {key: value}}})
