# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe as a Doc -> Doc callable, not as TorchTagger.)
"""Write tests/data/pipeline_0_2_0/ with spacy-torch-tagger 0.2.0 (commit 1e9f7a7).

Run from the repository root with that commit's package first on the path:

    git worktree add /tmp/v020 1e9f7a7
    PYTHONPATH=/tmp/v020 python tests/data/make_pipeline_0_2_0.py

It writes two small pipelines trained on this checkout's bundled corpus (tag and
pos; the corpus has no morph): `lstm/` (the default network, temperatures set)
and `transformer/` (TransformerNetwork.v1 on a tiny random BERT written here), each
with `expected.json`: the texts, the tags, POS, logits, probabilities and top-3
labels that 0.2.0 gives after loading the saved pipeline. Needs transformers.
"""

import json
import shutil
import string
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import spacy
import torch
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

import spacy_torch_tagger

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "tests" / "data" / "pipeline_0_2_0"
TEXTS = [
    "The dog ate the apple.",
    "She smiled at me and the cat slept.",
    "Peter and Sue live in London.",
    "Everybody quickly read those strange books yesterday!",
]
LOAD_WITH_PROBABILITIES = {"components": {"torch_tagger": {"probabilities": True, "top_k": 3}}}
LSTM_MODEL = {
    "features": {"vocab_rows": 200, "rows": [50, 50, 20], "char_rows": 100},
    "network": {"embed_width": 8, "char_embed_width": 4, "char_width": 8, "hidden_width": 8},
}
BERT_WORDS = ["the", "dog", "cat", "ate", "apple", "she", "smiled", "at", "me", "and", "in", "live"]


def train(model: Dict[str, Any], steps: int) -> Language:
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": model})
    docs = DocBin().from_disk(REPO / "corpus" / "train.spacy").get_docs(nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for step in range(steps):
        nlp.update(examples[(step * 16) % len(examples) :][:16], sgd=optimizer)
    return nlp


def record(path: Path) -> None:
    """expected.json: what 0.2.0 gives after loading the pipeline it saved."""
    nlp = spacy.load(path, config=LOAD_WITH_PROBABILITIES)
    docs = [nlp(text) for text in TEXTS]
    scores = nlp.get_pipe("torch_tagger").model.predict([nlp.make_doc(text) for text in TEXTS])
    expected = {
        "texts": TEXTS,
        "tags": [[token.tag_ for token in doc] for doc in docs],
        "pos": [[token.pos_ for token in doc] for doc in docs],
        "scores": [doc_scores.tolist() for doc_scores in scores],
        "probs": [[token._.torch_tagger_probs for token in doc] for doc in docs],
        "top_k": [[token._.torch_tagger_top_k for token in doc] for doc in docs],
    }
    (path / "expected.json").write_text(json.dumps(expected) + "\n")


def write_tiny_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase]
    vocab += [f"##{letter}" for letter in string.ascii_lowercase] + list(".,!?'") + BERT_WORDS
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


def save(nlp: Language, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    nlp.to_disk(path)
    record(path)


def main() -> None:
    package = Path(spacy_torch_tagger.__file__).resolve()
    if REPO in package.parents:
        sys.exit(f"spacy_torch_tagger comes from this checkout ({package}): put 0.2.0 first on PYTHONPATH.")
    lstm = train(LSTM_MODEL, steps=150)
    lstm.get_pipe("torch_tagger").set_temperatures({"tag": 1.7, "pos": 0.6})
    save(lstm, OUTPUT / "lstm")
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = write_tiny_bert(Path(folder) / "tiny_bert")
        network: Dict[str, Any] = {
            "@architectures": "spacy_torch_tagger.TransformerNetwork.v1",
            "checkpoint": str(checkpoint),
        }
        save(train({"network": network}, steps=150), OUTPUT / "transformer")
    sizes: List[str] = [
        f"{p.relative_to(OUTPUT)}: {p.stat().st_size}" for p in OUTPUT.rglob("*") if p.is_file()
    ]
    print(f"written with {package.parent}:", *sizes, sep="\n  ")


if __name__ == "__main__":
    main()
