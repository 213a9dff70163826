"""Writes tests/data/pipeline_0_1_0: a pipeline saved by spacy-torch-tagger 0.1.0.

Run once with the code at commit 7105418 (the last 0.1.0 layout: a thinc model
whose PyTorchWrapper held the network, weights format v1); the tests check that
the current code still loads it and tags exactly as recorded in expected.json.
"""

import json
from pathlib import Path

import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, fix_random_seed

HERE = Path(__file__).parent
TEXTS = ["The dog ate the apple.", "She smiled at me and the cat slept.", "Peter and Sue live in London."]

fix_random_seed(0)
nlp = spacy.blank("en")
nlp.add_pipe(
    "torch_tagger",
    config={
        "targets": ["tag", "pos"],
        "model": {
            "features": {"vocab_rows": 200, "rows": [50, 50, 20], "char_rows": 100},
            "network": {"embed_width": 8, "char_embed_width": 4, "char_width": 8, "hidden_width": 8},
        },
    },
)
docs = DocBin().from_disk(HERE.parent.parent / "corpus" / "train.spacy").get_docs(nlp.vocab)
examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
nlp.initialize(lambda: examples)
optimizer = Adam(0.01)
for step in range(40):
    nlp.update(examples[(step * 16) % len(examples) :][:16], sgd=optimizer)
nlp.to_disk(HERE / "pipeline_0_1_0")
tagger = nlp.get_pipe("torch_tagger")
scores = tagger.model.predict([nlp.make_doc(text) for text in TEXTS])
expected = {
    "texts": TEXTS,
    "tags": [[t.tag_ for t in nlp(text)] for text in TEXTS],
    "pos": [[t.pos_ for t in nlp(text)] for text in TEXTS],
    "scores": [[[round(float(v), 5) for v in row] for row in doc_scores] for doc_scores in scores],
}
(HERE / "pipeline_0_1_0" / "expected.json").write_text(json.dumps(expected) + "\n")
