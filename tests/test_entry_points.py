"""The package is found through entry points, in fresh processes, without an import."""

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
        "assert name.startswith('spacy_torch_tagger.') and name.endswith('.v1'), name\n"
        "spacy.registry.architectures.get(name)\n"
        "print(name, type(tagger).__name__)\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.stdout.split() == ["spacy_torch_tagger.TorchTagger.v1", "TorchTagger"]


def test_every_architecture_is_an_entry_point_under_its_registry_name():
    setup = ConfigParser()
    setup.read(REPO / "setup.cfg")
    declared = {
        line.split("=")[0].strip()
        for line in setup["options.entry_points"]["spacy_architectures"].strip().splitlines()
    }
    installed = {
        ep.name
        for ep in entry_points(group="spacy_architectures")
        if ep.value.startswith("spacy_torch_tagger.")
    }
    assert declared == installed
    for name in declared:
        function = registry.architectures.get(name)
        assert getattr(function, "__module__", "").startswith("spacy_torch_tagger")
    factories = {ep.name: ep.value for ep in entry_points(group="spacy_factories")}
    assert factories["torch_tagger"] == "spacy_torch_tagger.component:make_torch_tagger"


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
    assert '@architectures = "spacy_torch_tagger.TorchTagger.v1"' in full
    assert "[components.torch_tagger.model.network]" in full
    assert "[training.optimizer]" in full


@pytest.mark.parametrize(
    "config, overrides",
    [
        ("demo.cfg", []),
        ("tutorial.cfg", []),
        ("ewt_accurate.cfg", ["--paths.train", "corpus/train.spacy", "--paths.dev", "corpus/dev.spacy"]),
        ("ewt_fast.cfg", ["--paths.train", "corpus/train.spacy", "--paths.dev", "corpus/dev.spacy"]),
    ],
)
def test_shipped_configs_pass_debug_config(config, overrides):
    result = _run(sys.executable, "-m", "spacy", "debug", "config", f"configs/{config}", *overrides)
    assert "Config is valid" in result.stdout
