"""Installed like a user installs it, on a machine without the checkout: a pipeline
packaged with `spacy package`, pip-installed into a fresh virtual environment from a
wheelhouse that holds this package's wheel (nothing is on PyPI), as the docs say."""

import configparser
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import List

import pytest
from test_docs import fenced_blocks

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

TEXTS = ["The dog ate the apple.", "She smiled at me and the cat slept."]

TAG_IN_FRESH_VENV = """
import json, sys
from pathlib import Path
import spacy, spacy_torch_tagger
site = Path(spacy_torch_tagger.__file__).resolve()
assert "site-packages" in site.parts and Path(sys.argv[1]).resolve() not in site.parents, site
tagger = spacy.blank("en").add_pipe("torch_tagger")  # the factory is found through the entry point
assert type(tagger).__module__ == "spacy_torch_tagger.pipeline.component"
import importlib.util
assert importlib.util.find_spec("transformers") is None, "the base install needs no transformers"
try:
    network = {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", "checkpoint": "x"}
    spacy.blank("en").add_pipe("torch_tagger", config={"model": {"network": network}})
    raise AssertionError("a transformer network without the extra")
except ImportError as error:
    assert "pip install 'transformers<4.53.3,>=4.40.0' (the [transformers] extra)" in str(error), error
texts = json.loads(sys.argv[3])
saved = spacy.load(sys.argv[2])
packaged = spacy.load("en_tiny_torch_tagger")
both = {"saved": saved, "packaged": packaged}
print(json.dumps({name: [[t.tag_ for t in doc] for doc in nlp.pipe(texts)] for name, nlp in both.items()}))
"""


def write_docs_meta(path: Path) -> Path:
    """The meta file docs/serialization-and-security.md shows for `spacy package`."""
    blocks = fenced_blocks(REPO / "docs" / "serialization-and-security.md")
    (block,) = [block for block in blocks if block.language == "json"]
    path.write_text(block.text, encoding="utf8")
    return path


def _run(args: List[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """A folder with the built wheel of this package."""
    root = tmp_path_factory.mktemp("wheelhouse")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root), str(REPO)], root)
    wheels = list(root.glob("spacy_torch_tagger-*.whl"))
    assert len(wheels) == 1, wheels
    return root


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """The python of a new, empty virtual environment."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(root / "venv")], root)
    return root / "venv" / "bin" / "python"


def test_the_wheel_holds_the_report_template_and_the_type_marker(wheelhouse):
    with zipfile.ZipFile(next(wheelhouse.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
    assert {"spacy_torch_tagger/py.typed", "spacy_torch_tagger/report/report.md.jinja"} <= names


def test_pip_resolves_the_wheel_with_every_extra(wheelhouse, fresh_venv, tmp_path):
    """The README's route without the Makefile: pip resolves the wheel with all its
    user-facing extras and the torch pin together (a dry run: nothing is installed)."""
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    extras = {name: value.split() for name, value in parser["options.extras_require"].items()}
    user_extras = sorted(set(extras) - {"test", "dev"})
    wheel = next(wheelhouse.glob("*.whl"))
    constraints = REPO / "requirements" / "torch-cpu.txt"
    report = tmp_path / "report.json"
    # --ignore-installed: the report lists everything, whatever the other test installed first
    install = [str(fresh_venv), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    install += ["--report", str(report)]
    _run([*install, "-c", str(constraints), f"{wheel}[{','.join(user_extras)}]"], tmp_path)
    resolved = {
        item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    for extra in user_extras:
        for requirement in extras[extra]:
            name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
            assert name in resolved, f"{extra}: {name} not resolved"
    pinned = constraints.read_text().split("torch==")[1].split()[0]
    assert resolved["torch"].split("+")[0] == pinned  # a local build tag (+cpu) is the same release


def test_a_packaged_pipeline_installs_from_the_wheelhouse_and_tags_in_a_fresh_venv(
    wheelhouse, fresh_venv, trained_nlp, tmp_path
):
    expected = [[t.tag_ for t in doc] for doc in trained_nlp.pipe(TEXTS)]
    trained_nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "packages").mkdir()
    _run(
        [
            sys.executable,
            "-m",
            "spacy",
            "package",
            str(tmp_path / "pipeline"),
            str(tmp_path / "packages"),
            "--name",
            "tiny_torch_tagger",
            "--version",
            "0.0.1",
            "--meta-path",
            str(write_docs_meta(tmp_path / "my_meta.json")),
        ],
        tmp_path,
    )
    sdist = (
        tmp_path / "packages" / "en_tiny_torch_tagger-0.0.1" / "dist" / "en_tiny_torch_tagger-0.0.1.tar.gz"
    )
    meta = json.loads((tmp_path / "pipeline" / "meta.json").read_text())
    packaged_meta = json.loads(
        (
            tmp_path / "packages" / "en_tiny_torch_tagger-0.0.1" / "en_tiny_torch_tagger" / "meta.json"
        ).read_text()
    )
    assert any(r.startswith("spacy-torch-tagger") for r in packaged_meta["requirements"]), packaged_meta
    docs_meta = json.loads((tmp_path / "my_meta.json").read_text())
    assert {key: packaged_meta[key] for key in docs_meta} == docs_meta
    package_readme = (tmp_path / "packages" / "en_tiny_torch_tagger-0.0.1" / "README.md").read_text()
    assert f"| **License** | `{docs_meta['license']}` |" in package_readme
    assert meta["components"] == packaged_meta["components"]
    constraints = REPO / "requirements" / "torch-cpu.txt"
    # Only the pipeline is named: pip finds spacy-torch-tagger, which it requires, in the wheelhouse.
    _run(
        [
            str(fresh_venv),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(constraints),
            "--find-links",
            str(wheelhouse),
            str(sdist),
        ],
        tmp_path,
    )
    result = _run(
        [str(fresh_venv), "-c", TAG_IN_FRESH_VENV, str(REPO), str(tmp_path / "pipeline"), json.dumps(TEXTS)],
        tmp_path,
    )
    tags = json.loads(result.stdout.strip().splitlines()[-1])
    assert tags == {"saved": expected, "packaged": expected}
