import torch
from test_lstm_tagger import SPEC, _batch

from spacy_torch_tagger.network import LSTMTagger
from spacy_torch_tagger.network.int8 import int8_copy


def _trained_looking_net() -> LSTMTagger:
    torch.manual_seed(0)
    net = LSTMTagger(SPEC, {"tag": 6}, embed_width=8, char_width=8, hidden_width=16)
    with torch.no_grad():
        for param in net.parameters():
            param.normal_(0.0, 0.3)  # the heads start at zero; give every layer weights
    return net.eval()


def test_int8_copy_quantizes_the_lstm_and_linear_layers_only():
    quantized = int8_copy(_trained_looking_net())
    kinds = {type(module).__module__ for module in quantized.modules()}
    assert any("quantized.dynamic" in kind for kind in kinds)
    assert not any(type(m) is torch.nn.LSTM or type(m) is torch.nn.Linear for m in quantized.modules())
    assert any(type(m) is torch.nn.Embedding for m in quantized.modules())


def test_int8_copy_leaves_the_float_network_untouched_and_agrees_with_it():
    net = _trained_looking_net()
    before = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    quantized = int8_copy(net)
    assert all(torch.equal(before[name], tensor) for name, tensor in net.state_dict().items())
    batch = _batch([7, 5, 9])
    with torch.no_grad():
        exact = net(batch)["tag"]
        approx = quantized(batch)["tag"]
    assert approx.shape == exact.shape
    assert not torch.equal(approx, exact)
    assert torch.allclose(approx, exact, atol=0.1 * exact.abs().max().item())
