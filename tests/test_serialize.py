"""The network's weights as safetensors: exact round trips, and every way a blob
can fail to be this network's weights refused by name, without unpickling."""

import builtins
import io
import pickle

import pytest
import safetensors.torch
import torch

from spacy_torch_tagger.layers.storage.weights import (
    WeightsError,
    load_weights,
    network_weights,
    tensors_to_bytes,
)


def _net(width: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.LayerNorm(width))


def _zeroed(network: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for param in network.parameters():
            param.zero_()
    return network


def test_round_trip_restores_every_tensor_exactly():
    source = _net()
    with torch.no_grad():
        for param in source.parameters():
            param.add_(torch.rand_like(param))
    target = _zeroed(_net())
    load_weights(target, network_weights(source))
    for name, tensor in source.state_dict().items():
        assert torch.equal(tensor, target.state_dict()[name]), name


def test_the_blob_is_a_plain_safetensors_file_with_dtypes_kept():
    source = _net().to(torch.bfloat16)
    loaded = safetensors.torch.load(network_weights(source))
    assert loaded.keys() == source.state_dict().keys()
    assert all(tensor.dtype == torch.bfloat16 for tensor in loaded.values())
    assert torch.equal(loaded["0.weight"], source.state_dict()["0.weight"])


def test_tied_weights_are_saved():
    """safetensors refuses tensors that share storage; the copies it gets do not."""
    network = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    network[1].weight = network[0].weight
    loaded = safetensors.torch.load(network_weights(network))
    assert torch.equal(loaded["0.weight"], loaded["1.weight"])


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_WEIGHTS = True",))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickled_weights_are_refused_and_never_run(how, monkeypatch):
    buffer = io.BytesIO()
    if how == "pickle":
        pickle.dump(_RunsCode(), buffer)
    else:
        torch.save({"0.weight": _RunsCode()}, buffer)
    unpickled = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(a))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: unpickled.append(a))
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(WeightsError, match="not a valid safetensors file.*Pickled weights.*refused"):
        load_weights(_net(), buffer.getvalue())
    assert not hasattr(builtins, "PWNED_BY_WEIGHTS")
    assert unpickled == []


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_truncated_weights_are_refused(cut):
    data = network_weights(_net())
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        load_weights(_net(), data[:cut])


def test_a_mismatched_shape_is_named():
    with pytest.raises(WeightsError, match=r"'0\.weight' has shape \(3, 4\).*expects \(5, 4\)"):
        load_weights(_net(5), network_weights(_net(3)))


def test_missing_and_unexpected_tensors_are_named():
    partial = network_weights(torch.nn.Sequential(torch.nn.Linear(4, 3)))
    with pytest.raises(WeightsError, match=r"missing \['1\.bias', '1\.weight'\], unexpected \[\]"):
        load_weights(_net(), partial)
    extra = {**_net().state_dict(), "2.weight": torch.ones(2)}
    with pytest.raises(WeightsError, match=r"missing \[\], unexpected \['2\.weight'\]"):
        load_weights(_net(), tensors_to_bytes(extra))


def test_a_weight_of_another_kind_of_dtype_is_named():
    tensors = {**_net().state_dict(), "0.bias": torch.zeros(3, dtype=torch.int64)}
    with pytest.raises(
        WeightsError, match=r"'0\.bias' is torch\.int64 but the network expects torch\.float32"
    ):
        load_weights(_net(), tensors_to_bytes(tensors))


def test_a_float_weight_of_another_precision_loads():
    source = _net()
    target = _zeroed(_net())
    load_weights(target, tensors_to_bytes({k: v.double() for k, v in source.state_dict().items()}))
    assert torch.equal(target.state_dict()["0.weight"], source.state_dict()["0.weight"])
