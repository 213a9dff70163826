"""`python -m spacy_torch_tagger annotate`: one record per input document in order, the
same output for 1 and 2 processes and on Ray, resume, malformed lines, a killed worker."""

import json
import os
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.annotate.ray_engine import CRASH_ONCE_ENV, RayMissingError, require_ray
from spacy_torch_tagger.annotate.reading import BadLine, Document, read_input
from spacy_torch_tagger.annotate.records import doc_record

from conftest import CORPUS, train_pipeline

SHARD_SIZE = "40"  # the 137 corpus documents make 4 shards


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("annotate") / "pipeline"
    train_pipeline(["tag", "pos"], steps=30).to_disk(path)
    return path


@pytest.fixture(scope="module")
def texts() -> List[str]:
    nlp = spacy.blank("en")
    return [doc.text for doc in DocBin().from_disk(CORPUS / "train.spacy").get_docs(nlp.vocab)]


@pytest.fixture(scope="module")
def jsonl_input(tmp_path_factory, texts) -> Path:
    path = tmp_path_factory.mktemp("annotate_input") / "corpus.jsonl"
    lines = [json.dumps({"id": f"doc-{i}", "text": text}) for i, text in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def annotate(pipeline: Path, input: Path, output: Path, *options: str) -> int:
    argv = ["annotate", str(pipeline), str(input), str(output), "--shard-size", SHARD_SIZE, "--no-progress"]
    return main(argv + list(options))


def read_records(output: Path) -> List[Dict]:
    records = []
    for shard in sorted(output.glob("part-*.jsonl")):
        records += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]
    return records


def read_docs(output: Path, nlp) -> List:
    docs = []
    for shard in sorted(output.glob("part-*.spacy")):
        docs += list(DocBin().from_disk(shard).get_docs(nlp.vocab))
    return docs


def shard_bytes(output: Path) -> Dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(output.glob("part-*"))}


@pytest.fixture(scope="module")
def local_output(pipeline_dir, jsonl_input, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("local") / "out"
    assert annotate(pipeline_dir, jsonl_input, output) == 0
    return output


def test_one_record_per_line_in_order_with_the_pipelines_tags(local_output, pipeline_dir, texts):
    records = read_records(local_output)
    assert [r["id"] for r in records] == [f"doc-{i}" for i in range(len(texts))]
    assert [r["line"] for r in records] == list(range(1, len(texts) + 1))
    assert [r["text"] for r in records] == texts
    nlp = spacy.load(pipeline_dir)
    for record, text in zip(records, texts, strict=True):
        doc = nlp(text)
        assert [(t["text"], t["tag"], t["pos"], t["morph"], t["ws"]) for t in record["tokens"]] == [
            (t.text, t.tag_, t.pos_, str(t.morph), t.whitespace_) for t in doc
        ]
    assert sorted(p.name for p in local_output.glob("part-*")) == [f"part-0000{k}.jsonl" for k in range(4)]
    manifest = json.loads((local_output / "_manifest.json").read_text())
    assert (local_output / "_SUCCESS").exists()
    assert manifest["documents"] == manifest["records"] == manifest["lines"] == len(texts)
    assert [s["records"] for s in manifest["shards"]] == [40, 40, 40, len(texts) - 120]
    assert not list(local_output.glob(".*.tmp"))


def test_two_processes_write_the_same_shards(local_output, pipeline_dir, jsonl_input, tmp_path):
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "out", "--n-process", "2", "--batch-size", "8") == 0
    assert shard_bytes(tmp_path / "out") == shard_bytes(local_output)


def test_a_rerun_rewrites_only_the_missing_shard(local_output, pipeline_dir, jsonl_input, tmp_path):
    output = tmp_path / "out"
    assert annotate(pipeline_dir, jsonl_input, output) == 0
    before = {path.name: path.stat().st_mtime_ns for path in output.glob("part-*")}
    (output / "part-00002.jsonl").unlink()
    (output / ".part-00002.jsonl.tmp").write_text("half a shard from an interrupted run")
    assert annotate(pipeline_dir, jsonl_input, output) == 0
    after = {path.name: path.stat().st_mtime_ns for path in output.glob("part-*")}
    assert {name for name in after if after[name] != before[name]} == {"part-00002.jsonl"}
    assert shard_bytes(output) == shard_bytes(local_output)
    assert not (output / ".part-00002.jsonl.tmp").exists()
    manifest = json.loads((output / "_manifest.json").read_text())
    assert [s["written"] for s in manifest["shards"]] == ["earlier run"] * 2 + ["this run"] + ["earlier run"]


def test_a_rerun_with_other_settings_is_refused(local_output, pipeline_dir, jsonl_input, tmp_path, capsys):
    output = tmp_path / "out"
    assert annotate(pipeline_dir, jsonl_input, output) == 0
    assert main(["annotate", str(pipeline_dir), str(jsonl_input), str(output), "--no-progress"]) == 1
    assert "shard_size" in capsys.readouterr().err


BAD_INPUT = "\n".join(
    [
        '{"id": 1, "text": "The dog ate the apple."}',
        "{not json",
        '{"id": 3, "body": "no text field"}',
        "",
        '{"id": 5, "text": 42}',
        '["a", "list"]',
        '{"id": 7, "text": "She read a book."}',
    ]
)


@pytest.fixture
def bad_input(tmp_path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text(BAD_INPUT + "\n", encoding="utf-8")
    return path


def test_malformed_lines_fail_the_run_by_default(pipeline_dir, bad_input, tmp_path, capsys):
    assert annotate(pipeline_dir, bad_input, tmp_path / "out") == 1
    err = capsys.readouterr().err
    for line in (2, 3, 5, 6):
        assert f"{bad_input}:{line}: " in err
    assert "4 malformed input line(s), the first at" in err and "--on-bad-line skip" in err
    assert not list((tmp_path / "out").glob("part-*"))


def test_malformed_lines_are_reported_and_skipped(pipeline_dir, bad_input, tmp_path, capsys):
    output = tmp_path / "out"
    assert annotate(pipeline_dir, bad_input, output, "--on-bad-line", "skip") == 0
    err = capsys.readouterr().err
    assert f"skipped: {bad_input}:2: not valid JSON" in err
    assert f"skipped: {bad_input}:3: no 'text' field" in err
    assert f"skipped: {bad_input}:5: the 'text' field is a int, not a string" in err
    assert f"skipped: {bad_input}:6: a JSON list, not an object" in err
    assert [(r["id"], r["line"]) for r in read_records(output)] == [(1, 1), (7, 7)]
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["bad_lines_skipped"] == 4 and manifest["blank_lines"] == 1
    assert [b["line"] for b in manifest["bad_lines"]] == [2, 3, 5, 6]


def test_a_directory_of_text_files_into_docbin_shards(pipeline_dir, texts, tmp_path):
    folder = tmp_path / "in"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(texts[:50]) + "\n", encoding="utf-8")
    (folder / "b" / "c.txt").write_text("\n".join(texts[50:]) + "\n\n", encoding="utf-8")
    output = tmp_path / "out"
    assert annotate(pipeline_dir, folder, output, "--format", "docbin") == 0
    nlp = spacy.load(pipeline_dir)
    docs = read_docs(output, nlp)
    assert [doc.text for doc in docs] == texts + [""]  # the empty last line is an empty document
    assert [(doc.user_data["file"], doc.user_data["line"]) for doc in docs[49:51]] == [
        ("a.txt", 50),
        ("b/c.txt", 1),
    ]
    for doc in docs[:20]:
        assert [t.tag_ for t in doc] == [t.tag_ for t in nlp(doc.text)]


def test_text_lines_that_are_not_utf8_are_reported(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"The dog ate.\r\n\xff\xfe broken\n\nLast line without a newline")
    items = list(read_input(path))
    assert [(type(item).__name__, item.line) for item in items] == [
        ("Document", 1),
        ("BadLine", 2),
        ("Document", 3),
        ("Document", 4),
    ]
    assert [item.text for item in items if isinstance(item, Document)] == [
        "The dog ate.",
        "",
        "Last line without a newline",
    ]
    assert isinstance(items[1], BadLine) and "not UTF-8" in items[1].reason


def test_records_carry_probabilities_when_the_pipeline_sets_them(pipeline_dir):
    nlp = spacy.load(
        pipeline_dir, config={"components": {"torch_tagger": {"probabilities": True, "top_k": 2}}}
    )
    record = doc_record(nlp("The dog ate the apple."), {"line": 1})
    assert set(record["tokens"][1]["probs"]) == {"tag", "pos"}
    assert len(record["tokens"][1]["top_k"]["tag"]) == 2
    plain = doc_record(spacy.load(pipeline_dir)("The dog ate the apple."), {"line": 1})
    assert "probs" not in plain["tokens"][1]


def test_a_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayMissingError, match=r"pip install spacy-torch-tagger\[ray\]"):
        require_ray()


@pytest.fixture(scope="module")
def ray_cluster():
    """A local two-CPU Ray cluster for the module's Ray tests, which the command joins."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install spacy-torch-tagger[ray])")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install spacy-torch-tagger[ray])")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.mark.timeout(240)
def test_ray_writes_the_same_shards_as_the_local_engine(
    ray_cluster, local_output, pipeline_dir, jsonl_input, tmp_path
):
    output = tmp_path / "out"
    assert (
        annotate(
            pipeline_dir, jsonl_input, output, "--engine", "ray", "--n-process", "2", "--batch-size", "16"
        )
        == 0
    )
    assert shard_bytes(output) == shard_bytes(local_output)
    assert json.loads((output / "_manifest.json").read_text())["records"] == 137


@pytest.mark.timeout(240)
def test_ray_retries_the_batch_of_a_killed_worker(
    ray_cluster, local_output, pipeline_dir, jsonl_input, tmp_path, monkeypatch
):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, str(marker))
    output = tmp_path / "out"
    assert (
        annotate(
            pipeline_dir, jsonl_input, output, "--engine", "ray", "--n-process", "2", "--batch-size", "16"
        )
        == 0
    )
    assert marker.exists()  # a worker did exit mid-run
    assert shard_bytes(output) == shard_bytes(local_output)
    assert os.path.exists(output / "_SUCCESS")


@pytest.mark.timeout(240)
def test_ray_docbin_shards_hold_the_local_engines_docs(ray_cluster, pipeline_dir, jsonl_input, tmp_path):
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "local", "--format", "docbin") == 0
    options = ["--format", "docbin", "--engine", "ray", "--n-process", "2", "--batch-size", "32"]
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "ray", *options) == 0
    nlp = spacy.load(pipeline_dir)
    local, on_ray = read_docs(tmp_path / "local", nlp), read_docs(tmp_path / "ray", nlp)
    assert len(local) == len(on_ray) == 137
    for a, b in zip(local, on_ray, strict=True):
        assert a.to_json() == b.to_json()
        assert (a.user_data["id"], a.user_data["line"]) == (b.user_data["id"], b.user_data["line"])


@pytest.mark.timeout(240)
def test_ray_datasink_writes_the_local_engines_shards_and_resumes(
    ray_cluster, local_output, pipeline_dir, jsonl_input, tmp_path
):
    output = tmp_path / "out"
    options = ["--engine", "ray", "--ray-writer", "datasink", "--n-process", "2", "--batch-size", "16"]
    assert annotate(pipeline_dir, jsonl_input, output, *options) == 0
    assert shard_bytes(output) == shard_bytes(local_output)
    manifest = json.loads((output / "_manifest.json").read_text())
    assert (manifest["records"], manifest["ray_writer"]) == (137, "datasink")
    (output / "part-00002.jsonl").unlink()
    assert annotate(pipeline_dir, jsonl_input, output, *options) == 0
    assert shard_bytes(output) == shard_bytes(local_output)
    rerun = json.loads((output / "_manifest.json").read_text())
    written = [shard["written"] for shard in rerun["shards"]]
    assert written == ["earlier run", "earlier run", "this run", "earlier run"]


@pytest.mark.timeout(240)
def test_ray_datasink_retries_the_shard_of_a_killed_worker(
    ray_cluster, pipeline_dir, jsonl_input, tmp_path, monkeypatch
):
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "local", "--format", "docbin") == 0
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, str(marker))
    output = tmp_path / "ray"
    options = ["--format", "docbin", "--engine", "ray", "--ray-writer", "datasink", "--n-process", "2"]
    assert annotate(pipeline_dir, jsonl_input, output, *options) == 0
    assert marker.exists()  # a worker did exit mid-run
    nlp = spacy.load(pipeline_dir)
    local, on_ray = read_docs(tmp_path / "local", nlp), read_docs(output, nlp)
    assert [doc.to_json() for doc in on_ray] == [doc.to_json() for doc in local]
    assert [doc.user_data["line"] for doc in on_ray] == [doc.user_data["line"] for doc in local]
    assert not list(output.glob(".part-*.tmp"))
