"""`python -m spacy torch-tagger annotate` on the local engine: one record per input
document in order with `nlp(text)`'s annotations, 1 and 2 processes, malformed lines,
DocBin shards, resume keyed on content, the input read back shard by shard.

The helpers are in annotate_helpers.py and the shared fixtures (the trained pipeline,
the texts, their expected rows, the JSONL input) in conftest.py. The pipeline predicts
tag, pos and morph, whose labels never coincide (the corpus's tags are Penn Treebank
tags, its pos UD tags, and the morph features are derived from the tags), so a record
that swapped two of them fails the comparison with `nlp(text)`.
"""

import shutil
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest
import spacy
from annotate_helpers import (
    BAD_LINE_SHARD_SIZE,
    annotate,
    annotate_argv,
    assert_bad_lines_skipped_in_place,
    assert_records_match_nlp,
    assert_same_annotations,
    finished_output,
    manifest,
    read_docs,
    read_records,
    record_rows,
    shard_bytes,
    token_rows,
    train_annotate_pipeline,
    write_bad_lines_input,
)

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.annotate.fingerprint import locate_pipeline
from spacy_torch_tagger.annotate.input_errors import InputChangedError
from spacy_torch_tagger.annotate.ray_engine import RayMissingError, require_ray
from spacy_torch_tagger.annotate.reading import (
    BadLine,
    Document,
    input_files,
    is_jsonl,
    parse_line,
    read_shard,
)
from spacy_torch_tagger.annotate.scan import scan_input


@pytest.fixture(scope="module")
def local_output(pipeline_dir, jsonl_input, tmp_path_factory) -> Path:
    return finished_output(pipeline_dir, jsonl_input, tmp_path_factory.mktemp("local") / "out")


def test_one_record_per_line_in_order_with_the_pipelines_annotations(local_output, texts, expected):
    assert_records_match_nlp(local_output, texts, expected)
    assert (local_output / "_SUCCESS").exists()
    written = manifest(local_output)
    assert written["documents"] == written["records"] == written["lines"] == len(texts)
    assert [s["records"] for s in written["shards"]] == [40, 40, 40, len(texts) - 120]
    assert not list(local_output.glob(".*.tmp"))


def test_two_processes_write_the_records_of_one(
    local_output, pipeline_dir, jsonl_input, texts, expected, tmp_path
):
    output = tmp_path / "out"
    assert annotate(pipeline_dir, jsonl_input, output, "--n-process", "2", "--batch-size", "8") == 0
    assert_records_match_nlp(output, texts, expected)
    assert shard_bytes(output) == shard_bytes(local_output)


def test_a_skipped_bad_line_leaves_every_record_on_its_own_line(pipeline_dir, texts, expected, tmp_path):
    input = write_bad_lines_input(tmp_path, texts)
    options = ["--on-bad-line", "skip", "--shard-size", str(BAD_LINE_SHARD_SIZE), "--batch-size", "4"]
    assert annotate(pipeline_dir, input, tmp_path / "out", *options) == 0
    assert_bad_lines_skipped_in_place(tmp_path / "out", texts, expected)


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
    written = [s["written"] for s in manifest(output)["shards"]]
    assert written == ["earlier run"] * 2 + ["this run"] + ["earlier run"]


@pytest.fixture
def finished_run(pipeline_dir, jsonl_input, tmp_path) -> Tuple[Path, Path, Path]:
    """Copies of the pipeline and input, and an output directory finished from them."""
    pipeline = tmp_path / "pipeline"
    shutil.copytree(pipeline_dir, pipeline)
    input = tmp_path / "corpus.jsonl"
    shutil.copy(jsonl_input, input)
    assert annotate(pipeline, input, tmp_path / "out") == 0
    return pipeline, input, tmp_path / "out"


def assert_refused(argv: List[str], output: Path, capsys, *reasons: str) -> None:
    """The rerun fails naming each reason and how to proceed, and touches no shard."""
    before = shard_bytes(output)
    capsys.readouterr()
    assert main(argv) == 1
    printed = " ".join(capsys.readouterr().out.split())  # wasabi wraps its messages
    for reason in reasons:
        assert reason in printed
    assert "Write to a new output directory, or delete" in printed
    assert shard_bytes(output) == before


def test_a_rerun_after_the_input_changed_in_place_is_refused(finished_run, capsys):
    pipeline, input, output = finished_run
    data = input.read_bytes()
    edited = data.replace(b"The dog ate the apple", b"The cat ate the apple", 1)
    assert edited != data and len(edited) == len(data)
    input.write_bytes(edited)
    argv = annotate_argv(pipeline, input, output)
    assert_refused(argv, output, capsys, "input file corpus.jsonl changed (its SHA-256 differs)")


def test_a_rerun_after_the_pipeline_was_retrained_at_its_path_is_refused(finished_run, capsys):
    pipeline, input, output = finished_run
    shutil.rmtree(pipeline)
    train_annotate_pipeline(seed=1).to_disk(pipeline)
    argv = annotate_argv(pipeline, input, output)
    assert_refused(argv, output, capsys, "the pipeline changed")


def test_a_rerun_with_another_shard_size_or_field_is_refused(finished_run, capsys):
    pipeline, input, output = finished_run
    argv = annotate_argv(pipeline, input, output, "--shard-size", "30", "--id-key", "key")
    assert_refused(argv, output, capsys, "--shard-size was 40, now 30", "--id-key was 'id', now 'key'")


def test_a_rerun_after_the_code_file_changed_is_refused(finished_run, tmp_path, capsys):
    pipeline, input, output = finished_run
    code = tmp_path / "functions.py"
    code.write_text("SETTING = 1\n")
    shutil.rmtree(output)
    assert annotate(pipeline, input, output, "--code", str(code)) == 0
    code.write_text("SETTING = 2\n")
    argv = annotate_argv(pipeline, input, output, "--code", str(code))
    assert_refused(argv, output, capsys, "the --code file changed")


def test_shard_files_without_a_layout_are_refused(finished_run, capsys):
    pipeline, input, output = finished_run
    (output / "_layout.json").unlink()
    argv = annotate_argv(pipeline, input, output)
    assert_refused(argv, output, capsys, "holds shard files but no _layout.json")


def test_the_same_input_and_pipeline_at_other_paths_resume(finished_run, tmp_path):
    pipeline, input, output = finished_run
    moved_pipeline, moved_input = tmp_path / "moved" / "pipeline", tmp_path / "moved" / "renamed_dir"
    shutil.copytree(pipeline, moved_pipeline)
    moved_input.mkdir()
    shutil.copy(input, moved_input / input.name)  # a directory holding the same file resumes too
    before = shard_bytes(output)
    (output / "part-00001.jsonl").unlink()
    assert annotate(moved_pipeline, moved_input, output) == 0
    assert shard_bytes(output) == before
    assert [s["written"] for s in manifest(output)["shards"]].count("this run") == 1


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
    printed = capsys.readouterr()
    for line in (2, 3, 5, 6):
        assert f"{bad_input}:{line}: " in printed.err
    message = " ".join(printed.out.split())  # wasabi wraps its messages
    assert "4 malformed input line(s), the first at" in message and "--on-bad-line skip" in message
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
    written = manifest(output)
    assert written["bad_lines_skipped"] == 4 and written["blank_lines"] == 1
    assert [b["line"] for b in written["bad_lines"]] == [2, 3, 5, 6]


@pytest.fixture(scope="module")
def probabilities_pipeline(pipeline_dir, tmp_path_factory) -> Path:
    """The pipeline with `probabilities = true` and `top_k = 2`."""
    path = tmp_path_factory.mktemp("annotate_probs") / "pipeline"
    config = {"components": {"torch_tagger": {"probabilities": True, "top_k": 2}}}
    spacy.load(pipeline_dir, config=config).to_disk(path)
    return path


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory, texts) -> Path:
    """Two text files (a shard spans both), the second ending in an empty line."""
    folder = tmp_path_factory.mktemp("texts") / "in"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text("\n".join(texts[:50]) + "\n", encoding="utf-8")
    (folder / "b" / "c.txt").write_text("\n".join(texts[50:]) + "\n\n", encoding="utf-8")
    return folder


def test_docbin_shards_keep_every_annotation_and_the_probabilities(
    probabilities_pipeline, text_folder, texts, tmp_path
):
    output = tmp_path / "out"
    assert annotate(probabilities_pipeline, text_folder, output, "--format", "docbin") == 0
    nlp = spacy.load(probabilities_pipeline)
    docs = read_docs(output, nlp)
    assert [doc.text for doc in docs] == texts + [""]  # the empty last line is an empty document
    sources = [(doc.user_data["file"], doc.user_data["line"]) for doc in docs]
    assert sources == [("a.txt", n) for n in range(1, 51)] + [("b/c.txt", n) for n in range(1, 89)]
    for doc in docs:
        alone = nlp(doc.text)
        assert_same_annotations(token_rows(doc, probabilities=True), token_rows(alone, probabilities=True))
    assert any(t._.torch_tagger_top_k for doc in docs for t in doc)


def test_jsonl_records_carry_the_probabilities(probabilities_pipeline, jsonl_input, texts, tmp_path):
    assert annotate(probabilities_pipeline, jsonl_input, tmp_path / "out") == 0
    nlp = spacy.load(probabilities_pipeline)
    records = read_records(tmp_path / "out")
    assert [record["text"] for record in records] == texts
    for record in records:
        alone = token_rows(nlp(record["text"]), probabilities=True)
        assert_same_annotations(record_rows(record, probabilities=True), alone)
    assert len(records[0]["tokens"][0]["top_k"]["tag"]) == 2


def all_items(root: Path, text_field: str = "text", id_field: Optional[str] = "id") -> List[Any]:
    """Every document and malformed line of the input, parsed line by line from the start."""
    items, position = [], 0
    for name, path in input_files(root):
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, start=1):
                item = parse_line(raw, is_jsonl(name), position, name, number, text_field, id_field)
                if item is not None:
                    items.append(item)
                position += 1
    return items


@pytest.mark.parametrize("shard_size", [1, 3, 7, 1000])
def test_shards_read_back_alone_give_the_documents_of_a_whole_read(shard_size, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text(BAD_INPUT + "\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "sub" / "b.txt").write_bytes(b"one\r\ntwo\n\n\xff bad\nlast, no newline")
    (folder / "z.jsonl").write_text('{"id": "z", "text": "Zed."}\n\n{"text": "no id"}\n', encoding="utf-8")
    scan = scan_input(folder, shard_size)
    items = all_items(folder)
    read_back = [doc for source in scan.shards for doc in read_shard(folder, source)]
    assert read_back == [item for item in items if isinstance(item, Document)]
    assert scan.bad_lines == [item for item in items if isinstance(item, BadLine)]
    assert scan.n_lines == 15 and len(scan.shards) == -(-15 // shard_size)
    for source in scan.shards:
        positions = {doc.position for doc in read_shard(folder, source)}
        assert all(position // shard_size == source.shard for position in positions)
    assert [(d.file, d.line, d.id) for d in read_back][-2:] == [("z.jsonl", 1, "z"), ("z.jsonl", 3, None)]


def test_a_shard_whose_input_changed_since_the_scan_is_refused(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("one\ntwo\nthree\nfour\n", encoding="utf-8")
    scan = scan_input(path, 2)
    path.write_text("one\ntwo\nthree\nfive\n", encoding="utf-8")
    assert [doc.text for doc in read_shard(path, scan.shards[0])] == ["one", "two"]
    with pytest.raises(InputChangedError, match="are not those read when the run started"):
        list(read_shard(path, scan.shards[1]))


def test_text_lines_that_are_not_utf8_are_reported(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"The dog ate.\r\n\xff\xfe broken\n\nLast line without a newline")
    scan = scan_input(path, 10)
    documents = list(read_shard(path, scan.shards[0]))
    assert [(doc.line, doc.text) for doc in documents] == [
        (1, "The dog ate."),
        (3, ""),
        (4, "Last line without a newline"),
    ]
    assert [(bad.line, "not UTF-8" in bad.reason) for bad in scan.bad_lines] == [(2, True)]


def test_a_pipeline_that_is_not_there_is_refused(jsonl_input, tmp_path, capsys):
    assert annotate(tmp_path / "no_such_pipeline", jsonl_input, tmp_path / "out") == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "is neither a directory nor an installed pipeline package" in printed
    assert not (tmp_path / "out").exists()


def test_a_training_output_directory_is_refused_naming_the_pipelines_in_it(
    pipeline_dir, jsonl_input, tmp_path, capsys
):
    training_output = tmp_path / "training"
    shutil.copytree(pipeline_dir, training_output / "model-best")
    (training_output / "empty").mkdir()
    assert annotate(training_output, jsonl_input, tmp_path / "out") == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "is not a pipeline directory (no meta.json or config.cfg)" in printed
    assert f"give {training_output / 'model-best'}" in printed
    assert annotate(training_output / "empty", jsonl_input, tmp_path / "out") == 1
    assert "e.g. training/model-best" in " ".join(capsys.readouterr().out.split())
    assert not (tmp_path / "out").exists()


def test_a_code_file_that_is_not_there_is_refused(pipeline_dir, jsonl_input, tmp_path, capsys):
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "out", "--code", str(tmp_path / "nope.py")) == 1
    assert "the --code file" in " ".join(capsys.readouterr().out.split())


def test_an_installed_package_is_fingerprinted_by_its_files(pipeline_dir, tmp_path, monkeypatch):
    """An installed pipeline package resolves as spacy.load resolves it (by name, through
    its distribution), and its fingerprint follows its data directory's bytes."""
    site = tmp_path / "site"
    package = site / "xx_annotate_fake"
    shutil.copytree(pipeline_dir, package / "xx_annotate_fake-0.0.0")
    (package / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    (site / "xx_annotate_fake-0.0.0.dist-info").mkdir()
    (site / "xx_annotate_fake-0.0.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: xx_annotate_fake\nVersion: 0.0.0\n"
    )
    monkeypatch.syspath_prepend(str(site))
    before = locate_pipeline("xx_annotate_fake")
    assert before.reference == "xx_annotate_fake"
    (package / "__pycache__" / "x.pyc").write_bytes(b"compiled")
    assert locate_pipeline("xx_annotate_fake").sha256 == before.sha256
    (package / "xx_annotate_fake-0.0.0" / "meta.json").write_text("{}")
    assert locate_pipeline("xx_annotate_fake").sha256 != before.sha256
    assert locate_pipeline("blank:en").reference == "blank:en"


def test_a_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayMissingError, match=r"pip install 'ray\[data\]>=2.10' \(the \[ray\] extra\)"):
        require_ray()


def test_a_pipeline_not_bit_exact_across_batches_is_named_and_an_int8_one_is_not(
    pipeline_dir, jsonl_input, tmp_path, capsys
):
    """The test pipeline runs float32; the same weights with int8_inference do not."""
    assert annotate(pipeline_dir, jsonl_input, tmp_path / "float") == 0
    note = [line for line in capsys.readouterr().err.splitlines() if line.startswith("annotate: note:")]
    assert len(note) == 1 and "torch_tagger 'torch_tagger'" in note[0] and "int8_inference" in note[0]
    int8_config = {"components": {"torch_tagger": {"model": {"int8_inference": True}}}}
    spacy.load(pipeline_dir, config=int8_config).to_disk(tmp_path / "int8_pipeline")
    assert annotate(tmp_path / "int8_pipeline", jsonl_input, tmp_path / "int8") == 0
    assert "annotate: note:" not in capsys.readouterr().err
