# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Bring your own network: a network that keeps the contract trains and tags;
one that breaks it gets an error saying what was expected."""

from functools import partial
from typing import Any, Dict, Mapping

import numpy
import pytest
import spacy
import torch
from spacy.util import registry
from thinc.api import Adam, fix_random_seed

from spacy_torch_tagger.layers.tagger_model import tagger_shim
from spacy_torch_tagger.network import TaggerBatch
from spacy_torch_tagger.network.feature_spec import FeatureSpec

from conftest import corpus_examples, update_steps


class TinyNetwork(torch.nn.Module):
    """Word and hashed-feature embeddings -> one linear head per target; `mode`
    breaks the output contract on purpose."""

    def __init__(self, features: FeatureSpec, n_labels: Mapping[str, int], mode: str = "valid") -> None:
        super().__init__()
        self.words = torch.nn.Embedding(features.vocab_rows, 16)
        self.mixer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.heads = torch.nn.ModuleDict({target: torch.nn.Linear(16, n) for target, n in n_labels.items()})
        self.mode = mode

    def forward(self, batch: TaggerBatch) -> object:
        # Every sequence is read on its own; padding is not needed for this test's short docs.
        pieces = torch.split(self.words(batch.words), batch.lengths.tolist())
        hidden = torch.cat([self.mixer(piece.unsqueeze(0))[0] for piece in pieces])
        logits: Dict[str, torch.Tensor] = {target: head(hidden) for target, head in self.heads.items()}
        first = next(iter(logits))
        if self.mode == "bare_tensor":
            return logits[first]
        if self.mode == "missing_target":
            return {first: logits[first]}
        if self.mode == "wrong_shape":
            return {**logits, first: logits[first][:, :-1]}
        if self.mode == "integer_logits":
            return {**logits, first: logits[first].round().long()}
        if self.mode == "list_logits":
            return {**logits, first: logits[first].tolist()}
        return logits


@registry.architectures("test_contract.TinyNetwork.v1")
def build_tiny_network(mode: str = "valid"):
    return partial(TinyNetwork, mode=mode)


def _pipeline(mode: str, seed: int = 0, **model: object):
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    network = {"@architectures": "test_contract.TinyNetwork.v1", "mode": mode}
    features = {"vocab_rows": 300, "vocab_min_count": 1}
    nlp.add_pipe(
        "torch_tagger",
        config={"targets": ["tag", "pos"], "model": {"network": network, "features": features, **model}},
    )
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp, examples


def test_a_network_that_keeps_the_contract_trains_and_tags():
    """Far above the most frequent label's share of the dev tokens (about a quarter)."""
    nlp, examples = _pipeline("valid")
    dev = corpus_examples(nlp, "dev")
    update_steps(nlp, examples, 40)
    scores = nlp.evaluate(dev)
    for target, attr in (("tag", "tag_"), ("pos", "pos_")):
        labels = [getattr(token, attr) for eg in dev for token in eg.reference]
        majority = max(labels.count(label) for label in set(labels)) / len(labels)
        assert majority < 0.25 and scores[f"{target}_acc"] > 0.5, (target, scores)


def test_int8_inference_runs_a_network_with_a_stock_transformer_layer():
    """quantize_dynamic would swap the layer's linear1/linear2, whose .weight the
    layer reads directly; they stay float and the rest is quantized."""
    nlp, examples = _pipeline("valid", int8_inference=True)
    optimizer = Adam(0.01)
    for _ in range(10):
        nlp.update(examples[:16], sgd=optimizer)
    model = nlp.get_pipe("torch_tagger").model
    shim = tagger_shim(model)
    int8_network: Any = shim.int8_network()
    assert not isinstance(int8_network.heads["tag"], torch.nn.Linear), "the heads are int8"
    assert type(int8_network.mixer.linear1) is torch.nn.Linear, "the stock layer's linear layers stay float"
    docs = [nlp.make_doc(text) for text in ("The dog ate the apple.", "She smiled at me.")]
    int8_scores = numpy.concatenate(model.predict(docs))
    shim.int8_inference = False
    try:
        float_scores = numpy.concatenate(model.predict(docs))
    finally:
        shim.int8_inference = True
    assert not numpy.array_equal(int8_scores, float_scores), "the int8 copy is what tagged"
    assert (int8_scores.argmax(axis=1) == float_scores.argmax(axis=1)).mean() > 0.9
    assert [t.tag_ for doc in nlp.pipe(d.text for d in docs) for t in doc] == [
        nlp.get_pipe("torch_tagger").label_data["tag"][i]
        for i in int8_scores[:, : len(nlp.get_pipe("torch_tagger").label_data["tag"])].argmax(axis=1)
    ]


@pytest.mark.parametrize(
    "mode, message",
    [
        (
            "bare_tensor",
            r"must return a dict of logits \{'tag': \(\d+, \d+\), 'pos': \(\d+, \d+\)\}.*returned a Tensor",
        ),
        ("missing_target", r"keys miss \['pos'\] and add \[\]"),
        (
            "wrong_shape",
            r"'tag' has shape \((\d+), \d+\): one row per token of the batch \(\1\) and one column per label",
        ),
        ("integer_logits", r"'tag' has dtype torch.int64: return unnormalized float logits"),
        ("list_logits", r"'tag' is a list"),
    ],
)
def test_a_network_that_breaks_the_contract_is_named(mode, message):
    nlp, examples = _pipeline(mode)
    with pytest.raises(ValueError, match=message):
        nlp("The dog ate the apple.")
    with pytest.raises(ValueError, match=message):
        nlp.update([examples[0]], sgd=Adam(0.01))
