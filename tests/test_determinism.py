# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Training with a fixed seed on CPU gives the same weights every time."""

import torch

from spacy_torch_tagger.layers.tagger_model import network_of

from conftest import train_pipeline


def _weights(seed: int) -> dict:
    nlp = train_pipeline(["tag", "pos"], steps=15, seed=seed)
    network = network_of(nlp.get_pipe("torch_tagger").model)
    assert network is not None
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


def test_the_same_seed_gives_the_same_weights():
    first, second = _weights(seed=7), _weights(seed=7)
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_another_seed_gives_other_weights():
    first, second = _weights(seed=7), _weights(seed=8)
    assert any(not torch.equal(first[name], second[name]) for name in first)
