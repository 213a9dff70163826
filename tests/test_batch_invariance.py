# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""The same text gets the same annotations and probabilities alone and in any batch,
at any position, batch size or number of processes, in every precision mode.

int8 (integer products, scales that never look at the batch) is equal to the last
bit, and so is bfloat16 on a pretrained encoder (each window padded by its own
length). float32 matrix kernels pick their code path by the number of rows, so
float32 layers (every LSTM, which runs in float32 under bfloat16 too) may differ in
the last float digits: tags equal, probabilities within 1e-5.
"""

import random
from pathlib import Path
from typing import Any, Dict, List, Sequence

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from spacy_torch_tagger.layers.batch_exactness import exact_in_any_batch, inexact_note

from conftest import corpus_examples

# Largest probability difference allowed (0: bit for bit), by network and precision mode.
FLOAT32_TOLERANCE = 1e-5
TOLERANCE = {
    ("lstm", "float32"): FLOAT32_TOLERANCE,
    ("lstm", "int8"): 0.0,
    ("lstm", "bfloat16"): FLOAT32_TOLERANCE,
    ("transformer", "float32"): FLOAT32_TOLERANCE,
    ("transformer", "int8"): 0.0,
    ("transformer", "bfloat16"): 0.0,
}
MODEL_SETTINGS: Dict[str, Dict[str, Any]] = {
    "float32": {},
    "int8": {"int8_inference": True},
    "bfloat16": {"precision": "bfloat16"},
}


def _texts(nlp: Language) -> List[str]:
    """Sentences of the bundled corpus, long ones made of several, and odd text."""
    sentences = [eg.reference.text for eg in corpus_examples(nlp, "dev") + corpus_examples(nlp, "train")]
    chooser = random.Random(0)
    long = [" ".join(chooser.choice(sentences) for _ in range(chooser.randint(3, 12))) for _ in range(20)]
    odd = ["", "   ", "!!", "Ünïcødé wörds — and émoji 🙂 here.", "x" * 300, "\n\nThe dog.\t\tA cat."]
    return sentences + long + odd


def _annotations(doc: Doc) -> List[tuple]:
    return [(token.text, token.tag_, token.pos_, str(token.morph)) for token in doc]


def _largest_difference(alone: Sequence[Doc], batched: Sequence[Doc]) -> float:
    largest = 0.0
    for single, other in zip(alone, batched, strict=True):
        for a, b in zip(single, other, strict=True):
            probs_a, probs_b = a._.torch_tagger_probs, b._.torch_tagger_probs
            assert probs_a is not None and probs_b is not None and probs_a.keys() == probs_b.keys()
            largest = max([largest, *(abs(probs_a[k] - probs_b[k]) for k in probs_a)])
    return largest


def _check(nlp: Language, tolerance: float, settings: Sequence[tuple]) -> None:
    """Tag every text alone, then shuffled in batches of each (batch_size, n_process).
    The component says it is bit-exact exactly where the test demands it."""
    assert exact_in_any_batch(nlp.config["components"]["torch_tagger"]) == (tolerance == 0.0)
    assert (inexact_note(nlp.config) is None) == (tolerance == 0.0)
    pipe: Any = nlp.get_pipe("torch_tagger")
    pipe.probabilities = True
    texts = _texts(nlp)
    alone = [nlp(text) for text in texts]
    assert any(doc.has_annotation("TAG") for doc in alone)
    for seed, (batch_size, n_process) in enumerate(settings):
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        docs = list(nlp.pipe([texts[i] for i in order], batch_size=batch_size, n_process=n_process))
        batched = [docs[order.index(i)] for i in range(len(texts))]
        for single, other in zip(alone, batched, strict=True):
            assert _annotations(other) == _annotations(single), (batch_size, n_process, single.text)
        assert _largest_difference(alone, batched) <= tolerance, (batch_size, n_process)


def _load(path: Path, precision: str) -> Language:
    """The pipeline saved at `path`, tagging in the given precision mode."""
    model = {"int8_inference": False, "precision": "float32", **MODEL_SETTINGS[precision]}
    return spacy.load(path, config={"components": {"torch_tagger": {"model": model}}})


@pytest.fixture(scope="module")
def lstm_dir(trained_nlp, tmp_path_factory) -> Path:
    """The session's LSTM pipeline (trained in float32) on disk; each test tags in its own mode."""
    path = tmp_path_factory.mktemp("invariance") / "lstm"
    trained_nlp.to_disk(path)
    return path


@pytest.mark.parametrize("precision", ["float32", "int8", "bfloat16"])
def test_lstm_pipelines_tag_a_text_alike_in_any_batch(lstm_dir, precision):
    settings = [(3, 1), (17, 1), (1000, 1)] + ([(8, 2)] if precision == "int8" else [])
    _check(_load(lstm_dir, precision), TOLERANCE["lstm", precision], settings)


@pytest.fixture(scope="module")
def transformer_dir(transformer_nlp, tmp_path_factory) -> Path:
    """The session's pipeline on the tiny BERT (trained in float32) on disk; its windows
    of 16 pieces read long texts in several overlapping windows."""
    path = tmp_path_factory.mktemp("invariance") / "transformer"
    transformer_nlp.to_disk(path)
    return path


@pytest.mark.parametrize("precision", ["float32", "int8", "bfloat16"])
def test_transformer_pipelines_tag_a_text_alike_in_any_batch(transformer_dir, precision):
    _check(
        _load(transformer_dir, precision), TOLERANCE["transformer", precision], [(3, 1), (17, 1), (1000, 1)]
    )
