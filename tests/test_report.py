"""`python -m spacy torch-tagger report`: the evaluation report, its numbers and its figures."""

import configparser
import fnmatch
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy
import pytest
import spacy
from spacy.cli.evaluate import evaluate as spacy_evaluate
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.report import analysis, build, figures
from spacy_torch_tagger.report.tokens import marked_context, token_table

from conftest import CORPUS, REPO, SMALL_MODEL, corpus_examples, morph_examples, update_steps

DEV = CORPUS / "dev.spacy"
TRAIN = CORPUS / "train.spacy"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="matplotlib is not installed (pip install spacy-torch-tagger[report])",
)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory, trained_nlp) -> Dict[str, Path]:
    """The session's torch_tagger (tag, pos) and spaCy's own tagger (tag), briefly trained, on disk."""
    folder = tmp_path_factory.mktemp("pipelines")
    trained_nlp.to_disk(folder / "torch")
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    update_steps(nlp, examples, 15)
    nlp.to_disk(folder / "spacy_tagger")
    return {"torch": folder / "torch", "spacy": folder / "spacy_tagger"}


def _report(output: Path, pipeline: Path, *options: str) -> Dict:
    assert main(["report", str(pipeline), str(DEV), "--output", str(output), *options]) == 0
    return json.loads((output / "report.json").read_text(encoding="utf8"))


@pytest.fixture(scope="module")
def single(pipelines, tmp_path_factory) -> Path:
    """A report on one pipeline, the pipeline's own tokens, no training corpus."""
    output = tmp_path_factory.mktemp("single")
    _report(output, pipelines["torch"])
    return output


@pytest.fixture(scope="module")
def compared(pipelines, tmp_path_factory) -> Path:
    """torch_tagger beside spaCy's tagger, gold tokens, with the training corpus."""
    output = tmp_path_factory.mktemp("compared")
    _report(
        output,
        pipelines["torch"],
        "--compare",
        str(pipelines["spacy"]),
        "--gold-preproc",
        "--train",
        str(TRAIN),
    )
    return output


def _figures(report_md: str) -> List[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report_md)


def _assert_pngs(output: Path, names: List[str]) -> None:
    assert names
    for name in names:
        data = (output / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, name


def _accuracy_row(report_md: str, key: str) -> List[str]:
    """The cells after the key in the Accuracy table's row for `key` (tag_acc, pos_acc, ...)."""
    row = next(line for line in report_md.splitlines() if line.startswith(f"| {key} |"))
    return [cell.strip() for cell in row.strip("|").split("|")][1:]


@needs_matplotlib
def test_report_writes_markdown_json_and_figures(single):
    report_md = (single / "report.md").read_text(encoding="utf8")
    names = _figures(report_md)
    assert set(names) == {"accuracy.png"} | {
        f"{kind}_{target}.png"
        for kind in ("labels", "confusion", "bands", "reliability")
        for target in ("tag", "pos")
    }
    _assert_pngs(single, names)
    assert sorted(p.name for p in single.glob("*.png")) == sorted(names)
    assert "skipped, no training corpus given" in report_md
    # The report switches the torch_tagger's probabilities on: every compared token has one.
    report = json.loads((single / "report.json").read_text())
    for target in ("tag", "pos"):
        analysis_json = report["pipelines"][0]["targets"][target]
        assert analysis_json["reliability"]["tokens"] == analysis_json["tokens_compared"]
    assert "**" in report_md  # example contexts with the token marked
    # Every section of every target, in order, each with its table (report.md.jinja lays them out).
    lines = report_md.splitlines()
    expected = ["## Accuracy", "| score | torch |", "| target | pipeline | compared | annotated gold |"]
    for target in ("tag", "pos"):
        expected += [
            f"## {target}",
            f"### {target}: precision, recall and F1 per label",
            "| label | gold | P | R | F1 |",
            f"### {target}: confusion matrix",
            f"### {target}: most frequent confusions (gold → predicted)",
            "| gold | predicted | torch |",
            "Examples:",
            f"### {target}: accuracy by word frequency in training and by sentence length",
            "| sentence length | tokens | torch acc |",
            f"### {target}: reliability of the probabilities",
            "| pipeline | tokens with a probability | ECE (%) |",
        ]
    start = 0
    for line in expected:
        assert line in lines[start:], f"{line!r} missing after line {start}"
        start = lines.index(line, start) + 1


@needs_matplotlib
@pytest.mark.parametrize("gold_preproc", [False, True])
def test_accuracies_equal_spacy_evaluate(pipelines, tmp_path, gold_preproc):
    options = ["--gold-preproc"] if gold_preproc else []
    for pipeline in pipelines.values():
        output = tmp_path / pipeline.name
        data = _report(output, pipeline, *options)
        expected = spacy_evaluate(str(pipeline), DEV, gold_preproc=gold_preproc)
        scores = data["pipelines"][0]["scores"]
        report_md = (output / "report.md").read_text(encoding="utf8")
        keys = [key for key in ("tag_acc", "pos_acc", "morph_acc") if expected.get(key) is not None]
        assert keys and keys == [f"{t}_acc" for t in data["pipelines"][0]["targets"]]
        for key in keys:
            assert scores[key] == expected[key]
            assert _accuracy_row(report_md, key)[0] == f"{100 * expected[key]:.2f}"


@needs_matplotlib
def test_label_counts_sum_to_the_compared_tokens(single, compared):
    for output in (single, compared):
        for pipeline in json.loads((output / "report.json").read_text())["pipelines"]:
            for result in pipeline["targets"].values():
                labels = result["labels"]
                n = result["tokens_compared"]
                assert sum(x["support"] for x in labels) == n == sum(x["predicted"] for x in labels)
                assert n == result["tokens_annotated"] == 194  # the dev corpus, every token aligned
                bands = result["sentence_length_bands"]
                assert sum(b["tokens"] for b in bands) == n
                # every token aligned: the per-token accuracy is spaCy's
                assert sum(x["correct"] for x in labels) / n == pytest.approx(result["accuracy"])


@needs_matplotlib
def test_compare_shows_both_pipelines_and_the_differences(compared):
    data = json.loads((compared / "report.json").read_text())
    torch_scores, spacy_scores = (p["scores"] for p in data["pipelines"])
    assert data["differences"]["tag_acc"] == pytest.approx(spacy_scores["tag_acc"] - torch_scores["tag_acc"])
    assert "pos_acc" not in data["differences"]  # spaCy's tagger predicts no pos
    report_md = (compared / "report.md").read_text(encoding="utf8")
    assert "| score | torch | spacy\\_tagger | spacy\\_tagger − torch |" in report_md
    difference = _accuracy_row(report_md, "tag_acc")[2]
    assert difference == f"{100 * (spacy_scores['tag_acc'] - torch_scores['tag_acc']):+.2f}"
    assert "ΔF1" in report_md and "spacy\\_tagger − torch acc" in report_md
    assert "Only torch predicts pos." in report_md
    seen = data["pipelines"][0]["targets"]["tag"]["seen"]
    assert [b["band"] for b in seen] == ["unseen", "seen"] and sum(b["tokens"] for b in seen) == 194
    _assert_pngs(compared, _figures(report_md))
    assert (compared / "confusion_tag.png").exists() and (compared / "bands_tag.png").exists()


@needs_matplotlib
def test_reliability_diagram_uses_probability_of(pipelines, tmp_path):
    from spacy_torch_tagger.cli.report import write_report

    def probability_of(token, target: str) -> Optional[float]:
        return 0.9 if target == "tag" else None

    write_report([str(pipelines["torch"])], DEV, tmp_path, gold_preproc=True, probability_of=probability_of)
    data = json.loads((tmp_path / "report.json").read_text())["pipelines"][0]["targets"]
    tag, pos = data["tag"], data["pos"]
    assert pos["reliability"] is None and not (tmp_path / "reliability_pos.png").exists()
    assert tag["reliability"]["tokens"] == tag["tokens_compared"]
    assert tag["reliability"]["expected_calibration_error"] == pytest.approx(abs(tag["accuracy"] - 0.9))
    _assert_pngs(tmp_path, ["reliability_tag.png"])


def test_a_missing_pipeline_or_corpus_is_refused(pipelines, tmp_path, capsys):
    assert main(["report", str(tmp_path), str(DEV), "--output", str(tmp_path / "out")]) == 1
    assert "is not a pipeline directory" in " ".join(capsys.readouterr().out.split())
    assert (
        main(["report", str(pipelines["torch"]), str(tmp_path / "no.spacy"), "--output", str(tmp_path)]) == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'matplotlib>=3.7' \(the \[report\] extra\)"):
        figures.accuracy_figure(tmp_path / "a.png", ["tag"], ["x"], [[0.5]])


def test_tokens_without_a_one_to_one_alignment_are_left_out():
    nlp = spacy.blank("en")
    reference = Doc(nlp.vocab, words=["do", "nt", "go", "now"], tags=["VB", "RB", "VB", "RB"])
    predicted = Doc(nlp.vocab, words=["dont", "go", "no", "w"])
    predicted[1].tag_ = "VB"
    table = token_table([Example(predicted, reference)], "tag")
    assert table.annotated == 4
    assert (table.gold, table.predicted, table.words) == (["VB"], ["VB"], ["go"])
    assert table.contexts == [(0, 2)]


def test_label_scores_confusions_and_bands():
    gold = ["N", "N", "N", "V", "V", "D"]
    pred = ["N", "N", "V", "V", "N", "X"]
    scores = {s.label: s for s in analysis.label_scores(gold, pred)}
    assert list(scores) == ["N", "V", "D", "X"]
    assert (scores["N"].support, scores["N"].predicted, scores["N"].correct) == (3, 3, 2)
    assert scores["D"].precision is None and scores["D"].recall == 0.0 and scores["X"].support == 0
    matrix = analysis.confusion_matrix(gold, pred, ["N", "V"])
    assert matrix.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]] and matrix.sum() == len(gold)
    confusions = analysis.top_confusions(gold, pred, 2)
    assert [(c.gold, c.predicted, c.count, c.tokens) for c in confusions] == [
        ("D", "X", 1, (5,)),
        ("N", "V", 1, (2,)),
    ]
    bands = analysis.accuracy_by_band(
        [0, 0, 1, 3, 250, 7], [True, False, True, True, True, False], analysis.FREQUENCY_BANDS
    )
    assert [(b.name, b.tokens, b.correct) for b in bands] == [
        ("unseen", 2, 1),
        ("1", 1, 1),
        ("2-4", 1, 1),
        ("5-19", 1, 0),
        ("20-99", 0, 0),
        ("100+", 1, 1),
    ]
    assert bands[4].accuracy is None


def test_reliability_bins_and_calibration_error():
    probabilities = numpy.asarray([0.95, 0.95, 0.55, 0.55, numpy.nan, 1.0])
    correct = [True, False, True, True, False, True]
    result = analysis.reliability(probabilities, correct, n_bins=10)
    assert result.tokens == 5
    top, middle = result.bins[9], result.bins[5]
    assert (top.tokens, top.accuracy) == (3, pytest.approx(2 / 3)) and middle.tokens == 2
    expected = (3 * abs(2 / 3 - (0.95 + 0.95 + 1.0) / 3) + 2 * abs(1.0 - 0.55)) / 5
    assert result.expected_calibration_error == pytest.approx(expected)


def test_long_morph_labels_are_shortened_and_stay_distinct():
    labels = ["Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin", "Number=Sing", "x" * 40, "x" * 41]
    shown = figures.short_labels(labels, 24)
    assert shown[:2] == ["Ind|Sing|3|Pres|Fin", "Number=Sing"]
    assert len(set(shown)) == 4 and all(len(label) <= 28 for label in shown)


def test_marked_context_keeps_the_texts_spaces():
    doc = spacy.blank("en")("The dog barked.")
    assert marked_context(doc, 2) == ("The dog ", "barked", ".")
    assert marked_context(doc, 0, window=1) == ("", "The", " dog …")


@needs_matplotlib
def test_morph_target_equals_spacy_evaluate(tmp_path):

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos", "morph"], "model": SMALL_MODEL})
    examples = morph_examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(tmp_path / "pipeline")
    DocBin(docs=[eg.reference for eg in examples]).to_disk(tmp_path / "data.spacy")
    args = [str(tmp_path / "pipeline"), str(tmp_path / "data.spacy"), "--output", str(tmp_path / "out")]
    assert main(["report", *args]) == 0
    data = json.loads((tmp_path / "out" / "report.json").read_text())["pipelines"][0]
    expected = spacy_evaluate(str(tmp_path / "pipeline"), tmp_path / "data.spacy")
    assert list(data["targets"]) == ["tag", "pos", "morph"]
    for target in ("tag", "pos", "morph"):
        assert data["scores"][f"{target}_acc"] == expected[f"{target}_acc"]
    morph_labels = {x["label"]: x["support"] for x in data["targets"]["morph"]["labels"]}
    assert morph_labels["_"] == 1 and sum(morph_labels.values()) == 7
    _assert_pngs(tmp_path / "out", ["labels_morph.png", "confusion_morph.png", "bands_morph.png"])


def test_pipeline_names_are_short_and_distinct():
    from spacy_torch_tagger.cli.report import pipeline_names

    assert pipeline_names([Path("/x/a/model-best"), Path("/x/b/model-best")]) == [
        "a/model-best",
        "b/model-best",
    ]
    assert pipeline_names([Path("/x/torch"), Path("/y/spacy")]) == ["torch", "spacy"]
    assert pipeline_names([Path("/x/torch"), Path("/x/torch")]) == ["/x/torch", "/x/torch"]


@needs_matplotlib
def test_a_pipeline_compared_with_itself_differs_by_nothing(pipelines, tmp_path):
    data = _report(tmp_path, pipelines["spacy"], "--compare", str(pipelines["spacy"]))
    assert data["differences"] == {"token_acc": 0.0, "tag_acc": 0.0}
    first, second = (p["targets"]["tag"]["labels"] for p in data["pipelines"])
    assert first == second
    assert "| tag_acc |" in (tmp_path / "report.md").read_text(encoding="utf8")


# (words, tags, pos) of a crafted training corpus and evaluation corpus. Word counts
# in training (exact text): the 1, the 2, dog 3, . 3, and 1 for ate, apple, saw,
# Peter, a, slept. Unseen in the dev corpus: zebra, Dog (only "dog" was seen) and
# kiwi, twice (frequent in dev, absent from training).
CRAFTED_TRAIN = [
    ("the dog ate the apple .", "DT NN VBD DT NN .", "DET NOUN VERB DET NOUN PUNCT"),
    ("The dog saw Peter .", "DT NN VBD NNP .", "DET NOUN VERB PROPN PUNCT"),
    ("a dog slept .", "DT NN VBD .", "DET NOUN VERB PUNCT"),
]
CRAFTED_DEV = [
    ("The dog ate the apple .", "DT NN VBD DT NN .", "DET NOUN VERB DET NOUN PUNCT"),
    ("The zebra ate a kiwi .", "DT NN VBD DT NN .", "DET NOUN VERB DET NOUN PUNCT"),
    ("Peter saw the dog .", "NNP VBD DT NN .", "PROPN VERB DET NOUN PUNCT"),
    ("Dog ate kiwi .", "NNP VBD NN .", "PROPN VERB NOUN PUNCT"),
]
# The training count of each dev token, in order.
CRAFTED_COUNTS = [1, 3, 1, 2, 1, 3] + [1, 0, 1, 1, 0, 3] + [1, 1, 2, 3, 3] + [0, 1, 0, 3]


def _write_crafted(path: Path, sentences: List[tuple]) -> None:
    vocab = spacy.blank("en").vocab
    docs = [
        Doc(vocab, words=words.split(), tags=tags.split(), pos=pos.split()) for words, tags, pos in sentences
    ]
    DocBin(docs=docs).to_disk(path)


def _band(correct: List[bool], low: float, high: float) -> Dict[str, int]:
    """Tokens (and correct ones) of the crafted dev corpus whose training count is in [low, high]."""
    inside = [low <= count <= high for count in CRAFTED_COUNTS]
    return {"tokens": sum(inside), "correct": sum(c for c, i in zip(correct, inside, strict=True) if i)}


@needs_matplotlib
def test_unseen_words_are_counted_against_the_training_corpus(pipelines, tmp_path):
    """Seen and frequency bands count each dev token by how often its exact text
    occurs in --train (not in the evaluated corpus, not lower-cased), and each
    band's correct tokens are the pipeline's correct tags among them."""
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    _write_crafted(train, CRAFTED_TRAIN)
    _write_crafted(dev, CRAFTED_DEV)
    args = [str(pipelines["torch"]), str(dev), "--output", str(tmp_path / "out"), "--gold-preproc"]
    assert main(["report", *args, "--train", str(train)]) == 0
    targets = json.loads((tmp_path / "out" / "report.json").read_text())["pipelines"][0]["targets"]
    nlp = spacy.load(pipelines["torch"])
    for target, column in (("tag", 1), ("pos", 2)):
        correct = []
        for sentence in CRAFTED_DEV:
            doc = nlp(Doc(nlp.vocab, words=sentence[0].split()))
            predicted = [t.tag_ if target == "tag" else t.pos_ for t in doc]
            correct += [p == g for p, g in zip(predicted, sentence[column].split(), strict=True)]
        assert 0 < sum(correct) < len(correct), "some tokens right, some wrong"

        seen = {b["band"]: {k: b[k] for k in ("tokens", "correct")} for b in targets[target]["seen"]}
        assert seen == {"unseen": _band(correct, 0, 0), "seen": _band(correct, 1, 99)}
        assert seen["unseen"]["tokens"] == 4
        frequency = {
            b["band"]: {k: b[k] for k in ("tokens", "correct")} for b in targets[target]["frequency_bands"]
        }
        assert frequency["1"] == _band(correct, 1, 1) and frequency["2-4"] == _band(correct, 2, 4)
        assert (frequency["1"]["tokens"], frequency["2-4"]["tokens"], frequency["5-19"]["tokens"]) == (
            9,
            8,
            0,
        )
    report_md = (tmp_path / "out" / "report.md").read_text(encoding="utf8")
    assert "| unseen | 4 |" in report_md and "| seen | 17 |" in report_md


def test_the_markdown_template_ships_with_the_package():
    """build.py reads report.md.jinja with importlib.resources: setup.cfg must put it in the
    wheel and declare Jinja2."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg", encoding="utf8")
    patterns = config["options.package_data"]["spacy_torch_tagger.report"].split()
    assert any(fnmatch.fnmatch(build.TEMPLATE, pattern) for pattern in patterns), patterns
    assert re.search(r"^jinja2[<>=]", config["options"]["install_requires"], flags=re.MULTILINE)
    assert (Path(build.__file__).parent / build.TEMPLATE).is_file()
