"""The package is found through entry points, in fresh processes, without an import."""

import importlib
import re
import subprocess
import sys
from configparser import ConfigParser
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from spacy.util import registry

from conftest import REPO


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_add_pipe_in_a_fresh_process_needs_no_import():
    code = (
        "import spacy\n"
        "nlp = spacy.blank('en')\n"
        "tagger = nlp.add_pipe('torch_tagger')\n"
        "name = nlp.get_pipe_config('torch_tagger')['model']['@architectures']\n"
        "assert name.startswith('spacy_torch_tagger.') and name.endswith('.v2'), name\n"
        "spacy.registry.architectures.get(name)\n"
        "print(name, type(tagger).__name__)\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.stdout.split() == ["spacy_torch_tagger.TorchTagger.v2", "TorchTagger"]


ENTRY_POINT_REGISTRIES = {
    "spacy_factories": registry.factories,
    "spacy_architectures": registry.architectures,
    "spacy_scorers": registry.scorers,
    "spacy_misc": registry.misc,
    "spacy_augmenters": registry.augmenters,
    "spacy_tokenizers": registry.tokenizers,
    "spacy_cli": registry.cli,
}


def _declared_entry_points() -> dict:
    """group -> {name: "module:object"} as setup.cfg declares them."""
    setup = ConfigParser()
    setup.read(REPO / "setup.cfg")
    declared = {}
    for group, lines in setup["options.entry_points"].items():
        pairs = (line.split("=", 1) for line in lines.strip().splitlines())
        declared[group] = {name.strip(): value.strip() for name, value in pairs}
    return declared


def test_setup_cfg_declares_our_registries():
    assert set(_declared_entry_points()) == set(ENTRY_POINT_REGISTRIES)


@pytest.mark.parametrize("group", sorted(ENTRY_POINT_REGISTRIES))
def test_every_entry_point_loads_the_registered_function(group):
    """Each declared and each installed entry point names an object that exists and
    is the very function registered under that name."""
    declared = _declared_entry_points()[group]
    installed = {ep.name: ep for ep in entry_points(group=group) if ep.value.startswith("spacy_torch_tagger")}
    assert {name: ep.value for name, ep in installed.items()} == declared, "reinstall: pip install -e ."
    for name, value in declared.items():
        loaded = installed[name].load()
        # spaCy 3.8 keeps factories from entry points apart from the registered ones until
        # the module is imported (which loading the entry point does).
        registered = ENTRY_POINT_REGISTRIES[group].get(name)
        assert loaded is registered, (name, value)
        module_name, _, attribute = value.partition(":")
        assert getattr(importlib.import_module(module_name), attribute) is registered, (name, value)


def test_the_architectures_are_versioned_under_the_package_name():
    names = _declared_entry_points()["spacy_architectures"]
    assert names and all(re.fullmatch(r"spacy_torch_tagger\.\w+\.v\d+", name) for name in names)


def test_fill_config_completes_a_config_that_only_names_the_factory(tmp_path):
    (tmp_path / "base.cfg").write_text(
        '[nlp]\nlang = "en"\npipeline = ["torch_tagger"]\n\n'
        '[components]\n\n[components.torch_tagger]\nfactory = "torch_tagger"\n'
    )
    _run(
        sys.executable,
        "-m",
        "spacy",
        "init",
        "fill-config",
        str(tmp_path / "base.cfg"),
        str(tmp_path / "full.cfg"),
    )
    full = (tmp_path / "full.cfg").read_text()
    assert '@architectures = "spacy_torch_tagger.TorchTagger.v2"' in full
    assert "[components.torch_tagger.model.network]" in full
    assert "[training.optimizer]" in full


@pytest.mark.parametrize(
    "config, overrides",
    [
        ("demo.cfg", []),
        ("tutorial.cfg", []),
        ("ewt_accurate.cfg", ["--paths.train", "corpus/train.spacy", "--paths.dev", "corpus/dev.spacy"]),
        ("ewt_fast.cfg", ["--paths.train", "corpus/train.spacy", "--paths.dev", "corpus/dev.spacy"]),
        (
            "ud_fast.cfg",
            ["--nlp.lang", "hu", "--paths.train", "corpus/train.spacy", "--paths.dev", "corpus/dev.spacy"],
        ),
    ],
)
def test_shipped_configs_pass_debug_config(config, overrides):
    result = _run(sys.executable, "-m", "spacy", "debug", "config", f"configs/{config}", *overrides)
    assert "Config is valid" in result.stdout
