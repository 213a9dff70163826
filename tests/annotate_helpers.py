"""Helpers the annotate tests share: their pipeline's training, the command, its records and shards."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, MorphAnalysis, Span
from spacy.training import Example
from spacy.util import import_file
from spacy.vocab import Vocab

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.cli.annotate import INTERRUPTED

from conftest import CORPUS, SMALL_MODEL, update_steps

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
    from thinc.api import fix_random_seed

    fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos", "morph"], "model": SMALL_MODEL})
    examples = []
    for gold in DocBin().from_disk(CORPUS / "train.spacy").get_docs(nlp.vocab):
        for token in gold:
            token.morph = MorphAnalysis(nlp.vocab, MORPH_OF_TAG.get(token.tag_, ""))
        examples.append(Example(nlp.make_doc(gold.text), gold))
    nlp.initialize(lambda: examples)
    update_steps(nlp, examples, steps, drop=0.1)
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


# Tokens the English tokenizer would split otherwise ("York-based" -> York - based,
# "can't" -> ca n't), so that a run that retokenized doc.text would show.
WORDS = [
    ["A", "New", "York-based", "firm", "said", "so", "."],
    ["We", "can't", "go", "."],
    ["Hello"],
]


STALE_PROBS = ("._.", "torch_tagger_probs", 0, None)  # a value an earlier run left
OTHER_EXTENSION = ("._.", "reviewed", None, None)


def docbin_docs(n_copies: int = 3) -> List[Doc]:
    """Docs with their own tokens, tags, POS, morphology and lemmas no pipeline would
    predict, an entity, a stale torch_tagger probability and another extension's value
    in user_data, and an id there (except the last)."""
    vocab = Vocab()
    docs = []
    for copy in range(n_copies):
        for k, words in enumerate(WORDS):
            n = len(words)
            doc = Doc(vocab, words=words, tags=["GOLD"] * n, pos=["X"] * n, morphs=["Gold=Yes"] * n)
            for token in doc:
                token.lemma_ = "gold"
            if n > 2:
                doc.ents = [Span(doc, 1, 3, label="GPE")]
            if k < len(WORDS) - 1:
                doc.user_data["id"] = f"d{copy}-{k}"
            user_data: Dict[Any, Any] = doc.user_data  # spaCy types its keys as str; extensions use tuples
            user_data[STALE_PROBS] = {"tag": 0.5}
            user_data[OTHER_EXTENSION] = True
            docs.append(doc)
    return docs


def write_docbin(path: Path, docs: List[Doc]) -> Path:
    docbin = DocBin(store_user_data=True)
    for doc in docs:
        docbin.add(doc)
    docbin.to_disk(path)
    return path


def write_jsonl(path: Path, texts: List[str]) -> Path:
    """`texts` as JSONL, id "doc-i" for line i + 1."""
    lines = [json.dumps({"id": f"doc-{i}", "text": text}) for i, text in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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


def write_test_components(path: Path) -> Path:
    """TEST_COMPONENTS written at `path` as a --code file, and imported here to build
    pipelines with them; once per test session (spaCy refuses a factory registered again
    from another file)."""
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
