"""End to end: `python -m spacy train` on the bundled corpus, and a short UD English-EWT training."""

import json
import re
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import List

import pytest
import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.training.converters import conllu_to_docs
from thinc.api import Adam, Config, fix_random_seed

from spacy_torch_tagger.tokenization.treebank_tokenizer import treebank_tokenizer

from conftest import REPO


@pytest.mark.slow
def test_spacy_train_runs_the_demo_config(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", "configs/demo.cfg", "--output", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(tmp_path / "model-best")
    performance = nlp.meta["performance"]
    assert performance["pos_acc"] > 0.75, performance
    doc = nlp("The dog ate the apple.")
    assert [token.pos_ for token in doc] == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]


@pytest.mark.slow
def test_spacy_train_trains_the_treebank_tokenizer_given_as_an_override(tmp_path):
    """`--nlp.tokenizer` swaps the tokenizer of a shipped config; spacy train fits it in
    initialize, saves it, and spacy.load brings it back trained."""
    tokenizer = '{"@tokenizers": "spacy_torch_tagger.TreebankTokenizer.v1"}'
    command = ["configs/demo.cfg", "--output", str(tmp_path), "--nlp.tokenizer", tokenizer]
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", *command, "--training.max_steps", "20"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "model-best" / "tokenizer" / "boundaries.safetensors").is_file()
    nlp = spacy.load(tmp_path / "model-best")
    assert treebank_tokenizer(nlp).classifier.trained
    assert [token.text for token in nlp("The dog ate the apple.")] == [
        "The",
        "dog",
        "ate",
        "the",
        "apple",
        ".",
    ]


def _ewt_examples(nlp: Language, path: Path, n_sents: int) -> List[Example]:
    """The first n_sents sentences of a CoNLL-U file, ten per doc, via spaCy's converter."""
    with path.open(encoding="utf8") as file:
        text = "".join(islice(_sentences(file), n_sents))
    docs = conllu_to_docs(text, n_sents=10, no_print=True)
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def _sentences(lines):
    sentence: List[str] = []
    for line in lines:
        sentence.append(line)
        if not line.strip():
            yield "".join(sentence)
            sentence = []


@pytest.mark.slow
def test_a_short_ewt_training_learns_upos(ewt_dir):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "torch_tagger",
        config={
            "targets": ["pos"],
            "model": {"features": {"vocab_rows": 5000}, "network": {"embed_width": 32, "hidden_width": 64}},
        },
    )
    train = _ewt_examples(nlp, ewt_dir / "en_ewt-ud-train.conllu", 3000)
    dev = _ewt_examples(nlp, ewt_dir / "en_ewt-ud-dev.conllu", 1000)
    nlp.initialize(lambda: train)
    optimizer = Adam(0.005)
    for step in range(300):
        start = (step * 4) % len(train)
        nlp.update(train[start : start + 4], sgd=optimizer, drop=0.2)
    scores = nlp.evaluate(dev)
    assert scores["pos_acc"] > 0.85, scores


@pytest.mark.slow
@pytest.mark.parametrize("targets", [["pos"], ["tag", "pos"]])
def test_filled_config_trains_and_selects_on_the_targets_in_use(tmp_path, targets):
    """`spacy init fill-config` weights the mean accuracy of the chosen targets
    (targets_acc), and `spacy train` scores every evaluation by it; the saved meta
    scores the targets in use and no other."""
    base = tmp_path / "base.cfg"
    base.write_text(
        '[nlp]\nlang = "en"\npipeline = ["torch_tagger"]\n\n[components]\n\n'
        f'[components.torch_tagger]\nfactory = "torch_tagger"\ntargets = {json.dumps(targets)}\n\n'
        "[components.torch_tagger.model]\n\n"
        '[components.torch_tagger.model.network]\n@architectures = "spacy_torch_tagger.LSTMNetwork.v1"\n'
        "hidden_width = 32\n"
    )
    _spacy("init", "fill-config", str(base), str(tmp_path / "config.cfg"))
    config = Config().from_disk(tmp_path / "config.cfg")
    weights = config["training"]["score_weights"]
    assert weights == {"targets_acc": 1.0}
    result = _spacy(
        "train",
        str(tmp_path / "config.cfg"),
        "--output",
        str(tmp_path / "out"),
        "--paths.train",
        "corpus/train.spacy",
        "--paths.dev",
        "corpus/dev.spacy",
        "--training.max_steps",
        "60",
        "--training.eval_frequency",
        "20",
    )
    header = next(line for line in result.stdout.splitlines() if "SCORE" in line).split()
    assert header[-2:] == ["TARGETS_ACC", "SCORE"] and "TAG_ACC" not in header, header
    rows = [line.split() for line in result.stdout.splitlines() if re.match(r"\s*\d+\s+\d+\s", line)]
    assert len(rows) >= 3
    for row in rows:
        assert float(row[-1]) == pytest.approx(float(row[-2]) / 100, abs=0.006), row
    assert max(float(row[-1]) for row in rows) > 0.3
    performance = spacy.load(tmp_path / "out" / "model-best").meta["performance"]
    assert set(performance) == {"targets_acc", "torch_tagger_loss"} | {f"{target}_acc" for target in targets}
    per_target = [performance[f"{target}_acc"] for target in targets]
    assert performance["targets_acc"] == pytest.approx(sum(per_target) / len(per_target))
    assert performance["targets_acc"] == pytest.approx(max(float(row[-1]) for row in rows), abs=0.006)


def _spacy(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "spacy", *args], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result
