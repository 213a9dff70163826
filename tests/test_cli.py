"""The command line as spaCy users meet it: `python -m spacy torch-tagger annotate|calibrate|report`
(the `spacy_cli` entry point), spaCy's conventions (--code, config overrides, --gpu-id,
wasabi messages, exit statuses), and the `spacy_misc` entry point of the before_to_disk
callback. Most commands run in this process through `python -m spacy_torch_tagger`'s
main(), which runs the same typer group; the subprocesses check what only a fresh
interpreter shows."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import spacy
import srsly
from spacy.cli.evaluate import evaluate as spacy_evaluate
from thinc.api import Config
from thinc.util import has_cupy_gpu

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.annotate.fingerprint import directory_sha256
from spacy_torch_tagger.annotate.ray_engine import ShardAnnotator, ShardTask
from spacy_torch_tagger.annotate.scan import scan_input

from conftest import CORPUS, REPO

DEV = CORPUS / "dev.spacy"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Registered only by importing this file (--code): a component that sets every
# token's tag to its `tag` setting, when that is not empty.
RELABEL_CODE = """
from spacy.language import Language


class Relabel:
    def __init__(self, tag):
        self.tag = tag

    def __call__(self, doc):
        for token in doc:
            if self.tag:
                token.tag_ = self.tag
        return doc


@Language.factory("cli_test_relabel", default_config={"tag": ""})
def make_relabel(nlp, name, tag):
    return Relabel(tag)
"""


def said(captured: Any) -> str:
    """stdout and stderr as one line of words, without colours (wasabi wraps and colours)."""
    return " ".join(ANSI.sub("", captured.out + captured.err).split())


def run_spacy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spacy", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def pipeline(folder, trained_nlp) -> Path:
    """The session's tag + pos pipeline on disk (do not modify)."""
    trained_nlp.to_disk(folder / "pipeline")
    return folder / "pipeline"


@pytest.fixture(scope="module")
def code_file(folder) -> Path:
    (folder / "relabel.py").write_text(RELABEL_CODE, encoding="utf-8")
    return folder / "relabel.py"


@pytest.fixture(scope="module")
def custom_pipeline(pipeline, folder) -> Path:
    """The pipeline with a `relabel` component after the torch_tagger, whose factory
    only the --code file registers (written into the config without importing it)."""
    path = folder / "custom"
    shutil.copytree(pipeline, path)
    config = Config().from_disk(path / "config.cfg", interpolate=False)
    config["nlp"]["pipeline"] = [*config["nlp"]["pipeline"], "relabel"]
    config["components"]["relabel"] = {"factory": "cli_test_relabel", "tag": ""}
    config.to_disk(path / "config.cfg")
    return path


def fake_installed_package(pipeline: Path, site: Path, name: str) -> None:
    """`pipeline` as the installed pipeline package `name` under `site` (put it on
    sys.path): a package whose load() reads its data directory, as `spacy package` makes."""
    meta = srsly.read_json(pipeline / "meta.json")
    package = site / name
    shutil.copytree(pipeline, package / f"{meta['lang']}_{meta['name']}-{meta['version']}")
    shutil.copy(pipeline / "meta.json", package / "meta.json")
    (package / "__init__.py").write_text(
        "from spacy.util import load_model_from_init_py\n\n\n"
        "def load(**overrides):\n    return load_model_from_init_py(__file__, **overrides)\n"
    )
    (site / f"{name}-0.0.0.dist-info").mkdir()
    (site / f"{name}-0.0.0.dist-info" / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n"
    )


def headline(printed: str) -> Dict[str, List[str]]:
    """The rows of a printed table of spacy evaluate's kind: label -> values."""
    rows = {}
    for line in ANSI.sub("", printed).splitlines():
        match = re.match(r"^([A-Z]+ ECE|TOK|TAG|POS|MORPH)\s+(\S.*)$", line)
        if match:
            rows[match.group(1)] = match.group(2).split()
    return rows


def test_spacy_lists_the_commands_and_each_shows_its_help():
    listed = run_spacy("--help")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^\s+torch-tagger\s", listed.stdout, flags=re.MULTILINE), listed.stdout
    group = run_spacy("torch-tagger")  # no command: the help, with spaCy's status for a bare group
    assert group.returncode == 2
    for command in ("annotate", "calibrate", "report"):
        assert re.search(rf"^\s+{command}\s", group.stdout + group.stderr, flags=re.MULTILINE), group.stderr


@pytest.mark.parametrize(
    "command, options",
    [
        ("annotate", ["--text-key", "--id-key", "--code", "--gpu-id", "--n-process", "--batch-size"]),
        ("calibrate", ["--output", "--in-place", "--metrics", "--component", "--code", "--gpu-id"]),
        ("report", ["--output", "--compare", "--train", "--gold-preproc", "--code", "--gpu-id"]),
    ],
)
def test_each_command_documents_its_options(command, options, capsys):
    assert main([command]) == 2  # no arguments: its help
    printed = capsys.readouterr()
    assert f"Usage: python -m spacy_torch_tagger {command}" in printed.out + printed.err
    for option in options:
        assert option in printed.out + printed.err, option


def test_through_spacy_calibrate_imports_code_applies_overrides_and_writes_elsewhere(
    custom_pipeline, code_file, tmp_path
):
    """A fresh `python -m spacy` finds the command, imports --code (the pipeline's
    component needs it) and loads the pipeline with the overrides, which the
    calibrated pipeline keeps; the input pipeline is left as it was."""
    before = directory_sha256(custom_pipeline)
    output = tmp_path / "calibrated"
    overrides = ["--components.relabel.tag", "XX", "--components.torch_tagger.model.int8_inference", "true"]
    args = [str(custom_pipeline), str(DEV), "--output", str(output), "--code", str(code_file), *overrides]
    result = run_spacy("torch-tagger", "calibrate", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ECE after (%)" in result.stdout
    saved = Config().from_disk(output / "config.cfg", interpolate=False)
    assert saved["components"]["relabel"]["tag"] == "XX"
    assert saved["components"]["torch_tagger"]["model"]["int8_inference"] is True
    assert directory_sha256(custom_pipeline) == before


def test_report_needs_code_for_a_custom_component_and_applies_overrides(
    custom_pipeline, code_file, tmp_path, capsys
):
    """Without --code the pipeline does not load (a message naming --code); with it and
    an override, the component runs with the overridden setting: every tag is XX."""
    assert main(["report", str(custom_pipeline), str(DEV), "--output", str(tmp_path / "no_code")]) == 1
    message = said(capsys.readouterr())
    assert "Can't load the pipeline" in message and "cli_test_relabel" in message and "--code" in message
    args = [str(custom_pipeline), str(DEV), "--output", str(tmp_path / "out"), "--code", str(code_file)]
    assert main(["report", *args, "--components.relabel.tag", "XX"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())["pipelines"][0]
    assert report["scores"]["tag_acc"] == 0.0
    assert [label["label"] for label in report["targets"]["tag"]["labels"] if label["predicted"]] == ["XX"]
    assert report["scores"]["pos_acc"] > 0.5
    assert headline(capsys.readouterr().out)["TAG"] == ["0.00"]


def test_report_prints_the_numbers_spacy_evaluate_prints(pipeline, tmp_path, capsys):
    spacy_evaluate(str(pipeline), DEV, silent=False)
    expected = headline(capsys.readouterr().out)
    assert main(["report", str(pipeline), str(DEV), "-o", str(tmp_path)]) == 0
    printed = headline(capsys.readouterr().out)
    assert set(expected) == {"TOK", "TAG", "POS"}
    for label, values in expected.items():
        assert printed[label] == values, label
    targets = json.loads((tmp_path / "report.json").read_text())["pipelines"][0]["targets"]
    for target in ("tag", "pos"):
        ece = targets[target]["reliability"]["expected_calibration_error"]
        assert printed[f"{target.upper()} ECE"] == [f"{100 * ece:.2f}"]


def test_report_with_compare_prints_both_and_the_difference(
    custom_pipeline, pipeline, code_file, tmp_path, capsys
):
    """The overrides apply to the first pipeline only: the second has no `relabel`
    component, and would not load with them."""
    args = [str(custom_pipeline), str(DEV), "-o", str(tmp_path), "--compare", str(pipeline)]
    assert main(["report", *args, "--code", str(code_file), "--components.relabel.tag", "XX"]) == 0
    rows = headline(capsys.readouterr().out)
    data = json.loads((tmp_path / "report.json").read_text())
    first, second = (p["scores"]["tag_acc"] for p in data["pipelines"])
    assert first == 0.0 < second
    assert rows["TAG"] == [f"{100 * first:.2f}", f"{100 * second:.2f}", f"{100 * (second - first):+.2f}"]
    assert [p["name"] for p in data["pipelines"]] == ["custom (overridden)", "pipeline"]


def test_report_checks_for_matplotlib_before_evaluating(pipeline, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    def load(*args, **kwargs):
        raise AssertionError("a pipeline was loaded before matplotlib was checked")

    monkeypatch.setattr(spacy, "load", load)
    assert main(["report", str(pipeline), str(DEV), "-o", str(tmp_path / "out")]) == 1
    assert "pip install 'matplotlib>=3.7' (the [report] extra)" in said(capsys.readouterr())
    assert not (tmp_path / "out").exists()


def test_an_installed_package_is_reported_and_calibrated_elsewhere_not_in_place(
    pipeline, tmp_path, monkeypatch, capsys
):
    fake_installed_package(pipeline, tmp_path / "site", "xx_cli_fake")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert main(["report", "xx_cli_fake", str(DEV), "-o", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())["pipelines"][0]
    assert report["path"] == "xx_cli_fake" and report["targets"]
    capsys.readouterr()
    assert main(["calibrate", "xx_cli_fake", str(DEV), "--in-place"]) == 1
    assert "--in-place overwrites a pipeline directory; xx_cli_fake is not one" in said(capsys.readouterr())


def test_calibrate_overwrites_its_input_only_when_asked(pipeline, tmp_path, capsys):
    copy = tmp_path / "pipeline"
    shutil.copytree(pipeline, copy)
    before = directory_sha256(copy)
    refusals = [
        ([], "calibrate leaves PIPELINE as it is"),
        (["--in-place", "--output", str(tmp_path / "other")], "but --output names"),
    ]
    for options, message in refusals:
        assert main(["calibrate", str(copy), str(DEV), *options]) == 1
        assert message in said(capsys.readouterr())
    assert directory_sha256(copy) == before
    assert not (tmp_path / "other").exists()
    assert main(["calibrate", str(copy), str(DEV), "--output", str(copy)]) == 0  # named explicitly
    tagger: Any = spacy.load(copy).get_pipe("torch_tagger")
    assert tagger.temperatures != {"tag": 1.0, "pos": 1.0}


@pytest.mark.skipif(has_cupy_gpu, reason="a GPU is usable here: --gpu-id 0 would run")
@pytest.mark.parametrize("command", ["annotate", "calibrate", "report"])
def test_gpu_id_without_a_gpu_is_a_clear_error(command, pipeline, tmp_path, capsys):
    data = {"annotate": str(CORPUS / "sentences.txt"), "calibrate": str(DEV), "report": str(DEV)}[command]
    output = [str(tmp_path / "out")] if command == "annotate" else ["--output", str(tmp_path / "out")]
    assert main([command, str(pipeline), data, *output, "--gpu-id", "0"]) == 1
    message = said(capsys.readouterr())
    assert "Can't use GPU 0" in message and "--gpu-id -1, the default, runs on the CPU" in message
    assert not (tmp_path / "out").exists()


def test_annotate_refuses_a_gpu_with_several_processes(pipeline, tmp_path, capsys):
    argv = ["annotate", str(pipeline), str(CORPUS / "sentences.txt"), str(tmp_path / "out")]
    assert main([*argv, "--gpu-id", "0", "--n-process", "2"]) == 1
    assert "runs the pipeline in this process only" in said(capsys.readouterr())


def test_an_unknown_option_is_a_usage_error(pipeline, tmp_path, capsys):
    assert main(["calibrate", str(pipeline), str(DEV), "-o", str(tmp_path), "--bogus"]) == 2
    assert "No such option: --bogus" in said(capsys.readouterr())


@pytest.fixture(scope="module")
def jsonl(folder) -> Path:
    """Five documents with the text under "body"."""
    texts = ["The dog ate the apple.", "She reads a book.", "Peter saw it.", "They sing.", "A cat slept."]
    lines = [json.dumps({"id": i, "body": text}) for i, text in enumerate(texts)]
    (folder / "body.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "body.jsonl"


def test_annotate_overrides_reach_the_records_and_the_resume_key(pipeline, jsonl, tmp_path, capsys):
    argv = [
        "annotate",
        str(pipeline),
        str(jsonl),
        str(tmp_path / "out"),
        "--text-key",
        "body",
        "--no-progress",
    ]
    assert main([*argv, "--components.torch_tagger.probabilities", "true"]) == 0
    records = [json.loads(line) for line in (tmp_path / "out" / "part-00000.jsonl").read_text().splitlines()]
    assert len(records) == 5 and all("probs" in token for r in records for token in r["tokens"])
    capsys.readouterr()
    assert main(argv) == 1  # the same output without the override: another run's shards
    assert "the config overrides were {'components.torch_tagger.probabilities': True}, now {}" in said(
        capsys.readouterr()
    )


def test_annotate_overrides_reach_the_ray_workers_pipeline(pipeline, jsonl):
    """A Ray actor loads the pipeline itself: the task carries the overrides."""

    class Counter:
        class report:  # noqa: N801  (the actor method's name)
            @staticmethod
            def remote(*args) -> None:
                pass

    task = ShardTask(
        pipeline=str(pipeline),
        code=None,
        input=str(jsonl),
        text_field="body",
        id_field="id",
        format="jsonl",
        batch_size=2,
        config_overrides={"components.torch_tagger.probabilities": True},
    )
    content, records, _ = ShardAnnotator(task, Counter()).tag(scan_input(jsonl, 10, "body").shards[0])
    assert records == 5
    tokens = [token for line in content.decode().splitlines() for token in json.loads(line)["tokens"]]
    assert tokens and all("probs" in token for token in tokens)


def test_text_field_still_works_and_warns(pipeline, jsonl, tmp_path, capsys):
    argv = ["annotate", str(pipeline), str(jsonl), "--no-progress"]
    assert main([*argv, str(tmp_path / "old"), "--text-field", "body"]) == 0
    assert "--text-field is deprecated and will be removed: use --text-key" in said(capsys.readouterr())
    assert main([*argv, str(tmp_path / "new"), "-tk", "body"]) == 0
    assert "deprecated" not in said(capsys.readouterr())
    assert (tmp_path / "old" / "part-00000.jsonl").read_bytes() == (
        tmp_path / "new" / "part-00000.jsonl"
    ).read_bytes()
    assert main([*argv, str(tmp_path / "both"), "--text-key", "text", "--text-field", "body"]) == 0
    assert main([*argv, str(tmp_path / "clash"), "--text-key", "title", "--text-field", "body"]) == 1
    assert "--text-key 'title' and --text-field 'body' disagree" in said(capsys.readouterr())


def test_the_before_to_disk_callback_resolves_without_importing_the_package():
    """`spacy train` resolves [training.before_to_disk] by name: the spacy_misc entry
    point finds it in a fresh interpreter that imports nothing of the package."""
    code = (
        "import sys\n"
        "from spacy.util import registry\n"
        "assert not [m for m in sys.modules if m.startswith('spacy_torch_tagger')]\n"
        "name = 'spacy_torch_tagger.calibrate_before_to_disk.v1'\n"
        f"resolved = registry.resolve({{'callback': {{'@misc': name, 'dev': {str(DEV)!r}}}}})\n"
        "assert callable(resolved['callback'])\n"
        "assert 'spacy_torch_tagger.pipeline.factory' not in sys.modules\n"
        "print(registry.misc.get(name).__module__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["spacy_torch_tagger.calibration.calibrate"]
