"""The docs' own `python -m spacy torch-tagger` commands run as written: each one, in a
working directory of its own holding the files it names (a trained pipeline at
training/model-best, the bundled corpus under corpus/, a JSONL and a text corpus, a
second pipeline, a --code file), exits with status 0 and leaves what the command
writes. test_docs.py checks every shell command's options statically; this runs them."""

import json
import shutil
import sys
from pathlib import Path
from typing import Any, List

import pytest
from test_docs import Block, blocks_of, shell_commands
from thinc.api import Config

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.annotate.user_code import MODULE_NAME

from conftest import CORPUS

PREFIX = ["python", "-m", "spacy", "torch-tagger"]
FUNCTIONS = """from spacy.language import Language


@Language.component("docs_marker")
def docs_marker(doc):
    return doc
"""


def docs_commands() -> List[Any]:
    """Every torch-tagger command of the docs' shell blocks, marked skip where it needs
    what a test cannot hold (a running Ray cluster, an installed pipeline package)."""
    params = []
    for block in blocks_of("bash"):
        for number, words in enumerate(shell_commands(block), 1):
            if words[:4] != PREFIX:
                continue
            reason = None
            if "--ray-address" in words:
                reason = "joins a running Ray cluster (tests/test_annotate_ray.py runs the Ray engine)"
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(block, words[4:], id=f"{block.name}#{number}", marks=marks))
    return params


def add_code_component(pipeline: Path) -> None:
    """Put functions.py's component last in the saved pipeline's config, so that it
    loads only where --code functions.py registered it."""
    config = Config().from_disk(pipeline / "config.cfg", interpolate=False)
    config["nlp"]["pipeline"] = [*config["nlp"]["pipeline"], "docs_marker"]
    config["components"]["docs_marker"] = {"factory": "docs_marker"}
    config.to_disk(pipeline / "config.cfg")


def test_the_docs_hold_the_commands_this_runs():
    commands = [param.values[1] for param in docs_commands()]
    assert sum(argv[0] == "annotate" for argv in commands) >= 6
    assert {argv[0] for argv in commands} == {"annotate", "calibrate", "report"}
    assert any("--code" in argv for argv in commands)


@pytest.fixture(scope="module")
def template(tmp_path_factory, trained_nlp) -> Path:
    """The files the docs' commands name."""
    folder = tmp_path_factory.mktemp("docs_commands")
    (folder / "training").mkdir()
    trained_nlp.to_disk(folder / "training" / "model-best")
    shutil.copytree(folder / "training" / "model-best", folder / "other_pipeline")
    shutil.copytree(folder / "training" / "model-best", folder / "my_pipeline")
    (folder / "functions.py").write_text(FUNCTIONS, encoding="utf8")
    add_code_component(folder / "my_pipeline")
    (folder / "corpus").mkdir()
    for name in ("train.spacy", "dev.spacy"):
        shutil.copy(CORPUS / name, folder / "corpus" / name)
    texts = (CORPUS / "sentences.txt").read_text(encoding="utf8").splitlines()[:20]
    lines = [json.dumps({"id": f"doc-{i}", "text": text}) for i, text in enumerate(texts)]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")
    (folder / "texts").mkdir()
    (folder / "texts" / "a.txt").write_text("\n".join(texts[:10]) + "\n", encoding="utf8")
    (folder / "texts" / "b.txt").write_text("\n".join(texts[10:]) + "\n", encoding="utf8")
    return folder


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block, argv", docs_commands())
def test_the_docs_torch_tagger_commands_run(block: Block, argv: List[str], template, tmp_path, monkeypatch):
    if "ray" in argv:
        pytest.importorskip("ray.data", reason="Ray Data is not installed (the ray extra)")
    if argv[0] == "report":
        pytest.importorskip("matplotlib", reason="matplotlib is not installed (the report extra)")
    work = tmp_path / "work"
    shutil.copytree(template, work)
    monkeypatch.chdir(work)
    earlier = sys.modules.pop(MODULE_NAME, None)  # --code's module: this run's own, removed after
    try:
        assert main(argv) == 0, f"{block.name}: {' '.join(argv)}"
    finally:
        sys.modules.pop(MODULE_NAME, None)
        if earlier is not None:
            sys.modules[MODULE_NAME] = earlier
    output = Path(argv[argv.index("--output") + 1]) if "--output" in argv else Path(argv[3])
    assert output.is_dir() and any(output.iterdir()), f"{output} is empty"
    if argv[0] == "annotate":
        assert (output / "_SUCCESS").exists()
