import io
import pickle

import pytest
import srsly
import torch

from spacy_torch_tagger.serialize import WeightsError, deserialize_network, serialize_network


def _net(width: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.LayerNorm(width))


def test_round_trip_restores_every_tensor():
    source, target = _net(), _net()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    deserialize_network(target, serialize_network(source), torch.device("cpu"))
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED = True",))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickled_weights_are_refused_and_never_run(how):
    import builtins

    buffer = io.BytesIO()
    if how == "pickle":
        pickle.dump(_RunsCode(), buffer)
    else:
        torch.save({"0.weight": _RunsCode()}, buffer)
    with pytest.raises(WeightsError, match="refused"):
        deserialize_network(_net(), buffer.getvalue(), torch.device("cpu"))
    assert not hasattr(builtins, "PWNED")


def test_a_mismatched_shape_is_named():
    with pytest.raises(WeightsError, match=r"0\.weight.*\(3, 4\).*\(5, 4\)"):
        deserialize_network(_net(5), serialize_network(_net(3)), torch.device("cpu"))


def test_missing_tensors_are_named():
    data = srsly.msgpack_dumps({"format": "spacy_torch_tagger.weights.v1", "tensors": {}})
    assert deserialize_network(None, data, torch.device("cpu")) is None
    partial = serialize_network(torch.nn.Sequential(torch.nn.Linear(4, 3)))
    with pytest.raises(WeightsError, match="missing"):
        deserialize_network(_net(), partial, torch.device("cpu"))


def test_damaged_tensor_table_is_refused():
    data = srsly.msgpack_dumps({"format": "spacy_torch_tagger.weights.v1", "tensors": {"a": "text"}})
    with pytest.raises(WeightsError, match="damaged"):
        deserialize_network(_net(), data, torch.device("cpu"))


def test_loading_before_the_network_is_built_explains_what_to_do():
    with pytest.raises(WeightsError, match="spacy.load"):
        deserialize_network(None, serialize_network(_net()), torch.device("cpu"))


def test_a_flipped_byte_in_a_weight_is_refused_with_the_checksum():
    message = srsly.msgpack_loads(serialize_network(_net()))
    assert message["format"] == "spacy_torch_tagger.weights.v2"
    name, dtype, shape, raw = message["tensors"][0]
    damaged = bytearray(raw)
    damaged[len(damaged) // 2] ^= 0x01
    message["tensors"][0] = [name, dtype, shape, bytes(damaged)]
    with pytest.raises(WeightsError, match="checksum does not match"):
        deserialize_network(_net(), srsly.msgpack_dumps(message), torch.device("cpu"))


def test_weights_saved_by_0_1_0_still_load():
    source = _net()
    v1 = srsly.msgpack_dumps(
        {
            "format": "spacy_torch_tagger.weights.v1",
            "tensors": {name: tensor.numpy() for name, tensor in source.state_dict().items()},
        }
    )
    target = _net(3)
    with torch.no_grad():
        for param in target.parameters():
            param.zero_()
    deserialize_network(target, v1, torch.device("cpu"))
    for name, tensor in source.state_dict().items():
        assert torch.equal(tensor, target.state_dict()[name]), name


def test_a_malformed_tensor_entry_is_refused():
    message = srsly.msgpack_loads(serialize_network(_net()))
    message["tensors"][0] = ["0.weight", "object", [3, 4], b""]
    with pytest.raises(WeightsError, match="damaged"):
        deserialize_network(_net(), srsly.msgpack_dumps(message), torch.device("cpu"))
