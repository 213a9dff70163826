"""`python -m spacy torch-tagger annotate` on the local engine: one record per input
document in order with `nlp(text)`'s annotations, 1 and 2 processes, malformed lines,
DocBin shards, resume keyed on content, the input read back shard by shard.

The helpers and fixtures here serve test_annotate_ray.py and test_annotate_interrupt.py
too. The pipeline predicts tag, pos and morph, whose labels never coincide (the corpus's
tags are Penn Treebank tags, its pos UD tags, and the morph features are derived from the
tags below), so a record that swapped two of them fails the comparison with `nlp(text)`.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, MorphAnalysis
from spacy.training import Example
from spacy.util import import_file

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.annotate.fingerprint import locate_pipeline
from spacy_torch_tagger.annotate.ray_engine import RayMissingError, require_ray
from spacy_torch_tagger.annotate.reading import (
    BadLine,
    Document,
    InputChangedError,
    input_files,
    is_jsonl,
    parse_line,
    read_shard,
)
from spacy_torch_tagger.annotate.scan import scan_input
from spacy_torch_tagger.cli.annotate import INTERRUPTED

from conftest import CORPUS, SMALL_MODEL

SHARD_SIZE = 40  # the 137 corpus documents make 4 shards
MORPH_OF_TAG = {
    "NN": "Number=Sing",
    "NNS": "Number=Plur",
    "NNP": "Number=Sing",
    "VBD": "Tense=Past|VerbForm=Fin",
    "VBZ": "Number=Sing|Person=3|Tense=Pres|VerbForm=Fin",
    "VBP": "Tense=Pres|VerbForm=Fin",
    "DT": "PronType=Art",
    "PRP": "PronType=Prs",
    "PRP$": "Poss=Yes|PronType=Prs",
    "JJ": "Degree=Pos",
}
TokenRow = Tuple[Any, ...]


def train_annotate_pipeline(steps: int = 40, seed: int = 0) -> Language:
    """A small tag + pos + morph pipeline trained briefly on the bundled corpus, with
    morph features derived from the tags."""
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos", "morph"], "model": SMALL_MODEL})
    examples = []
    for gold in DocBin().from_disk(CORPUS / "train.spacy").get_docs(nlp.vocab):
        for token in gold:
            token.morph = MorphAnalysis(nlp.vocab, MORPH_OF_TAG.get(token.tag_, ""))
        examples.append(Example(nlp.make_doc(gold.text), gold))
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for step in range(steps):
        nlp.update(examples[(step * 16) % len(examples) :][:16], sgd=optimizer, drop=0.1)
    return nlp


def token_rows(doc: Doc, probabilities: bool = False) -> List[TokenRow]:
    """What a record must hold of each token of `doc`."""
    rows = []
    for t in doc:
        row: TokenRow = (t.text, t.tag_, t.pos_, str(t.morph), t.whitespace_)
        if probabilities:
            row += (t._.torch_tagger_probs, t._.torch_tagger_top_k)
        rows.append(row)
    return rows


def record_rows(record: Dict[str, Any], probabilities: bool = False) -> List[TokenRow]:
    """The same rows read from a JSON record."""
    rows = []
    for t in record["tokens"]:
        row: TokenRow = (t["text"], t["tag"], t["pos"], t["morph"], t["ws"])
        if probabilities:
            row += (t["probs"], t["top_k"])
        rows.append(row)
    return rows


def flat(values: Dict[str, Any], prefix: str = "") -> Dict[str, float]:
    """{target: p} or {target: {label: p}} as {"target/label": p}, in order."""
    flattened: Dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flattened.update(flat(value, f"{prefix}{key}/"))
        else:
            flattened[f"{prefix}{key}"] = value
    return flattened


def assert_same_annotations(actual: List[TokenRow], wanted: List[TokenRow]) -> None:
    """The labels equal; the probabilities and top k (the labels, in order) equal up to
    float32 rounding: a batch of docs sums in another order than one doc alone."""
    assert [row[:5] for row in actual] == [row[:5] for row in wanted]
    for got, want in zip(actual, wanted, strict=True):
        for got_values, wanted_values in zip(got[5:], want[5:], strict=True):
            assert list(flat(got_values)) == list(flat(wanted_values))
            assert flat(got_values) == pytest.approx(flat(wanted_values), rel=1e-5, abs=1e-7)


def corpus_texts() -> List[str]:
    nlp = spacy.blank("en")
    return [doc.text for doc in DocBin().from_disk(CORPUS / "train.spacy").get_docs(nlp.vocab)]


def expected_rows(pipeline: Path, texts: List[str]) -> Dict[str, List[TokenRow]]:
    """Each text's token rows by `nlp(text)`, one text at a time; checks that the
    pipeline's tag, pos and morph differ, so that a swap of two would show."""
    nlp = spacy.load(pipeline)
    rows = {text: token_rows(nlp(text)) for text in texts}
    predicted = [row for text_rows in rows.values() for row in text_rows]
    assert any(tag != pos for _, tag, pos, _, _ in predicted)
    assert len({morph for *_, morph, _ in predicted}) > 2  # the records' morph is no constant
    return rows


def trained_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline of train_annotate_pipeline, trained once in a test session (do not modify)."""
    path = tmp_path_factory.getbasetemp() / "annotate_pipeline"
    if not path.exists():
        train_annotate_pipeline().to_disk(path)
    return path


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    return trained_pipeline(tmp_path_factory)


@pytest.fixture(scope="module")
def texts() -> List[str]:
    return corpus_texts()


@pytest.fixture(scope="module")
def expected(pipeline_dir, texts) -> Dict[str, List[TokenRow]]:
    return expected_rows(pipeline_dir, texts)


def write_jsonl(path: Path, texts: List[str]) -> Path:
    """`texts` as JSONL, id "doc-i" for line i + 1."""
    lines = [json.dumps({"id": f"doc-{i}", "text": text}) for i, text in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def jsonl_input(tmp_path_factory, texts) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("annotate_input") / "corpus.jsonl", texts)


def annotate_argv(pipeline: Path, input: Path, output: Path, *options: str) -> List[str]:
    """The command line; shards of SHARD_SIZE lines unless `options` says otherwise."""
    shard_size = [] if "--shard-size" in options else ["--shard-size", str(SHARD_SIZE)]
    return ["annotate", str(pipeline), str(input), str(output), *shard_size, "--no-progress", *options]


def annotate(pipeline: Path, input: Path, output: Path, *options: str) -> int:
    return main(annotate_argv(pipeline, input, output, *options))


def read_records(output: Path) -> List[Dict]:
    records = []
    for shard in sorted(output.glob("part-*.jsonl")):
        records += [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]
    return records


def records_by_shard(output: Path) -> Dict[str, List[Dict]]:
    return {
        shard.name: [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]
        for shard in sorted(output.glob("part-*.jsonl"))
    }


def read_docs(output: Path, nlp: Language) -> List[Doc]:
    docs: List[Doc] = []
    for shard in sorted(output.glob("part-*.spacy")):
        docs += list(DocBin().from_disk(shard).get_docs(nlp.vocab))
    return docs


def shard_bytes(output: Path) -> Dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(output.glob("part-*"))}


def manifest(output: Path) -> Dict[str, Any]:
    return json.loads((output / "_manifest.json").read_text())


# Components for --code: one sleeps on each doc (a run lasts long enough to be
# interrupted), one kills its own process (SIGKILL) the first time it runs anywhere.
TEST_COMPONENTS = """
import os
import signal
import time

from spacy.language import Language


class Pause:
    def __init__(self, seconds):
        self.seconds = seconds

    def __call__(self, doc):
        time.sleep(self.seconds)
        return doc


@Language.factory("annotate_test_pause", default_config={"seconds": 0.0})
def make_pause(nlp, name, seconds):
    return Pause(seconds)


class KillOnce:
    def __init__(self, marker):
        self.marker = marker

    def __call__(self, doc):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return doc
        os.kill(os.getpid(), signal.SIGKILL)
        return doc


@Language.factory("annotate_test_kill_once", default_config={"marker": ""})
def make_kill_once(nlp, name, marker):
    return KillOnce(marker)
"""


def shared_code_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TEST_COMPONENTS as a --code file, one per test session (spaCy refuses a factory
    registered again from another file), also imported here to build pipelines with them."""
    path = tmp_path_factory.getbasetemp() / "annotate_components.py"
    if not path.exists():
        path.write_text(TEST_COMPONENTS, encoding="utf-8")
    import_file("annotate_test_components", path)
    return path


def pipeline_with(base: Path, path: Path, components: Dict[str, Dict[str, Any]]) -> Path:
    """The pipeline at `base` with `components` (name: config) added, saved at `path`."""
    nlp = spacy.load(base)
    for name, config in components.items():
        nlp.add_pipe(name, config=config)
    nlp.to_disk(path)
    return path


def _sigint_as_in_a_terminal() -> None:
    """A shell ignores SIGINT in the jobs it starts in the background, and children inherit
    that (Python then never raises KeyboardInterrupt): give the command the default
    disposition a terminal's foreground job has, wherever the tests themselves run."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_annotate(argv: List[str]) -> subprocess.Popen:
    """`python -m spacy_torch_tagger` with `argv`, in a process group of its own (the
    group is what a terminal's Ctrl-C signals)."""
    return subprocess.Popen(
        [sys.executable, "-m", "spacy_torch_tagger", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_as_in_a_terminal,
    )


def wait_for(condition: Any, process: subprocess.Popen, limit: float = 180.0) -> None:
    """Poll `condition()` until it holds; fail if `process` ends first."""
    deadline = time.monotonic() + limit
    while not condition():
        assert process.poll() is None, f"the run ended first: {process.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.02)


def interrupt_after_the_first_shard(argv: List[str], output: Path) -> Tuple[int, str]:
    """Run the command, send SIGINT to its process group once a shard is written;
    return its exit status and stderr."""
    process = start_annotate(argv)
    wait_for(lambda: any(output.glob("part-*")), process)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def assert_interrupted_cleanly(status: int, err: str, output: Path, n_shards: int) -> None:
    """Exit 130, one line last on stderr and no traceback, no temporary file, and some
    but not all shards written."""
    assert status == 130, err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err, err
    assert not [path.name for path in output.iterdir() if path.name.endswith(".tmp")]
    assert 0 < len(list(output.glob("part-*"))) < n_shards
    assert not (output / "_SUCCESS").exists()


def assert_records_match_nlp(output: Path, texts: List[str], expected: Dict[str, List[TokenRow]]) -> None:
    """One record per text, in order, each with its line, id, text and `nlp(text)`'s
    annotations, in the shard of its line."""
    shards = records_by_shard(output)
    assert list(shards) == [f"part-{k:05d}.jsonl" for k in range(len(shards))]
    seen = []
    for k, records in enumerate(shards.values()):
        for record in records:
            assert (record["line"] - 1) // SHARD_SIZE == k
            assert (record["id"], record["text"]) == (f"doc-{record['line'] - 1}", texts[record["line"] - 1])
            assert record_rows(record) == expected[record["text"]], record["line"]
            seen.append(record["line"])
    assert seen == list(range(1, len(texts) + 1))


def finished_output(pipeline: Path, input: Path, output: Path) -> Path:
    """`output` after an uninterrupted run with the default shards."""
    assert annotate(pipeline, input, output) == 0
    return output


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


# Line numbers (from 1) of malformed lines in a 10-line-shard run: the middle of a shard,
# a shard's first and last lines, two in a row, and the input's last line.
BAD_LINE_NUMBERS = (5, 11, 20, 21, 22, 37, 60)
BAD_LINE_SHARD_SIZE = 10


def write_bad_lines_input(folder: Path, texts: List[str]) -> Path:
    """bad.jsonl under `folder`: 60 lines, documents with ids "line-N" and texts[N],
    malformed lines at BAD_LINE_NUMBERS."""
    lines = []
    for number in range(1, 61):
        if number in BAD_LINE_NUMBERS:
            lines.append("{not json" if number % 2 else '{"id": "no text"}')
        else:
            lines.append(json.dumps({"id": f"line-{number}", "text": texts[number]}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "bad.jsonl"


def assert_bad_lines_skipped_in_place(output: Path, texts: List[str], expected: Dict[str, List[TokenRow]]):
    """Each record of a write_bad_lines_input run carries its own line's id, text and
    annotations, in the shard of its line; the malformed lines have none."""
    shards = records_by_shard(output)
    assert len(shards) == 6
    lines = []
    for k, records in enumerate(shards.values()):
        for record in records:
            line = record["line"]
            assert (line - 1) // BAD_LINE_SHARD_SIZE == k
            assert (record["id"], record["text"]) == (f"line-{line}", texts[line])
            assert record["file"] == "bad.jsonl"
            assert record_rows(record) == expected[texts[line]], line
            lines.append(line)
    assert lines == [n for n in range(1, 61) if n not in BAD_LINE_NUMBERS]
    written = manifest(output)
    assert [bad["line"] for bad in written["bad_lines"]] == list(BAD_LINE_NUMBERS)
    assert [shard["records"] for shard in written["shards"]] == [9, 8, 8, 9, 10, 9]


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
    with pytest.raises(RayMissingError, match=r"pip install spacy-torch-tagger\[ray\]"):
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
