"""configs/ud_fast.cfg on a language other than English: UD Greek-GDT, whose multiword
tokens (στο = σ + το) are merged by `spacy convert --merge-subtokens`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_torch_tagger.pipeline.component import TorchTagger

from conftest import REPO

GREEK_DIR = Path(os.environ.get("UD_GREEK_DIR", REPO.parent / "shared" / "corpora" / "ud_greek_gdt"))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def greek_corpus(tmp_path_factory) -> Path:
    if not (GREEK_DIR / "el_gdt-ud-dev.conllu").exists():
        pytest.skip(f"UD Greek-GDT not found at {GREEK_DIR} (set UD_GREEK_DIR to its folder)")
    folder = tmp_path_factory.mktemp("el")
    subprocess.run(
        [sys.executable, "-m", "spacy", "convert", str(GREEK_DIR / "el_gdt-ud-dev.conllu"), str(folder)]
        + ["--converter", "conllu", "-n", "10", "--merge-subtokens"],
        check=True,
        capture_output=True,
    )
    return folder / "el_gdt-ud-dev.spacy"


def test_merged_multiword_tokens_are_single_tokens_with_the_surface_form(greek_corpus):
    nlp = spacy.blank("el")
    docs = list(DocBin().from_disk(greek_corpus).get_docs(nlp.vocab))
    contractions = [token for doc in docs for token in doc if token.tag_ == "ADP_DET"]
    assert contractions, "GDT's σε + article contractions become one token tagged ADP_DET"
    assert {token.text.lower() for token in contractions} >= {"στο", "στην"}
    assert all(token.pos_ == "ADP" and "PronType=Art" in str(token.morph) for token in contractions)
    assert [t.text for t in nlp("Πήγα στο σπίτι.")] == ["Πήγα", "στο", "σπίτι", "."], (
        "the tokenizer keeps στο whole"
    )


def test_ud_fast_trains_a_greek_pipeline_that_predicts_pos_and_morph_and_no_tag(greek_corpus, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", "configs/ud_fast.cfg", "--nlp.lang", "el"]
        + ["--paths.train", str(greek_corpus), "--paths.dev", str(greek_corpus)]
        + ["--training.max_epochs", "1", "--corpora.train.limit", "8", "--corpora.dev.limit", "4"]
        + ["--output", str(tmp_path / "el")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    nlp = spacy.load(tmp_path / "el" / "model-best")
    tagger = nlp.get_pipe("torch_tagger")
    assert isinstance(tagger, TorchTagger)
    assert nlp.lang == "el" and tagger.targets == ["pos", "morph"], "GDT's XPOS only repeats UPOS"
    assert nlp.config["components"]["torch_tagger"]["targets"] == "auto"
    doc = nlp("Πήγα στο σπίτι της γιαγιάς μου στην Αθήνα.")
    assert [t.text for t in doc][:3] == ["Πήγα", "στο", "σπίτι"]
    assert all(token.pos_ for token in doc) and all(not token.tag_ for token in doc)
    assert any(str(token.morph) for token in doc)
    performance = nlp.meta["performance"]
    assert {"pos_acc", "morph_acc"} <= set(performance) and "tag_acc" not in performance
