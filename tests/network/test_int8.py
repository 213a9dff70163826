from typing import Any

import torch
from test_lstm_tagger import SPEC, _batch

from spacy_torch_tagger.network import LSTMTagger, LSTMTaggerSettings
from spacy_torch_tagger.network.int8 import int8_copy, quantizable_layers


def _trained_looking_net() -> LSTMTagger:
    torch.manual_seed(0)
    net = LSTMTagger(SPEC, {"tag": 6}, LSTMTaggerSettings(embed_width=8, char_width=8, hidden_width=16))
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


class _TransformerNet(torch.nn.Module):
    """A stock transformer layer between two linear layers."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs = torch.nn.Linear(8, 16)
        self.layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        self.outputs = torch.nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputs(self.layer(self.inputs(x)))


def test_layers_inside_a_stock_transformer_layer_stay_float():
    """TransformerEncoderLayer reads its linear layers' .weight tensors, which a
    quantized Linear only offers as a method; those layers keep float weights."""
    torch.manual_seed(0)
    net = _TransformerNet().eval()
    assert quantizable_layers(net) == {"inputs", "outputs"}
    quantized: Any = int8_copy(net)
    assert "quantized" in type(quantized.inputs).__module__
    assert type(quantized.layer.linear1) is torch.nn.Linear
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        exact, approx = net(x), quantized(x)
    assert torch.allclose(approx, exact, atol=0.1 * exact.abs().max().item())


def test_a_bare_transformer_layer_is_copied_without_quantizing():
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).eval()
    assert quantizable_layers(layer) == set()
    x = torch.randn(1, 3, 8)
    with torch.no_grad():
        assert torch.allclose(int8_copy(layer)(x), layer(x))
