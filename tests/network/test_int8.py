"""int8 copies for CPU inference: close to the float network, and a sequence's
numbers never depend on the other sequences of its batch."""

from typing import Any, List

import pytest
import torch
from tiny_inputs import SPEC, random_batch
from torch import nn
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

from spacy_torch_tagger.network import CharCNN, LSTMTagger, LSTMTaggerSettings, TaggerBatch
from spacy_torch_tagger.network.char_tables import CharTables
from spacy_torch_tagger.network.int8 import int8_copy, quantizable_layers
from spacy_torch_tagger.network.int8_linear import Int8Linear
from spacy_torch_tagger.network.int8_lstm import Int8LSTM


def _trained_looking(module: nn.Module, std: float = 0.3) -> nn.Module:
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, std)  # the heads start at zero; give every layer weights
    return module.eval()


def _tagger(depth: int = 1, hidden_width: int = 16) -> LSTMTagger:
    torch.manual_seed(0)
    net = LSTMTagger(
        SPEC,
        {"tag": 6, "pos": 4},
        LSTMTaggerSettings(embed_width=8, char_width=8, hidden_width=hidden_width, depth=depth),
    )
    _trained_looking(net)
    chars: Any = net.chars
    with torch.no_grad():
        chars.embed.weight[0].zero_()  # the padding row, as trained
    return net


def _subset(batch: TaggerBatch, lengths: List[int], first: int, count: int) -> TaggerBatch:
    """The batch of sequences first .. first + count - 1 of `batch` alone."""
    start = sum(lengths[:first])
    end = start + sum(lengths[first : first + count])
    return TaggerBatch(
        lengths=torch.tensor(lengths[first : first + count]),
        words=batch.words[start:end],
        lexical=batch.lexical[start:end],
        chars=batch.chars[batch.token_types[start:end]],
        token_types=torch.arange(end - start),
    )


@pytest.mark.parametrize("depth", [1, 2])
def test_the_int8_tagger_agrees_with_the_float_one_and_leaves_it_untouched(depth):
    net = _tagger(depth)
    before = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    quantized = int8_copy(net)
    assert all(torch.equal(before[name], tensor) for name, tensor in net.state_dict().items())
    torch.manual_seed(1)
    batch = random_batch([7, 5, 9, 1])
    with torch.no_grad():
        exact, approx = net(batch), quantized(batch)
    for target in ("tag", "pos"):
        assert approx[target].shape == exact[target].shape
        assert not torch.equal(approx[target], exact[target])
        error = (approx[target] - exact[target]).abs().max().item()
        assert error < 0.05 * exact[target].abs().max().item(), (target, error)


def test_the_int8_tagger_swaps_every_layer_that_computes():
    quantized = int8_copy(_tagger(depth=2))
    kinds = [type(module) for module in quantized.modules()]
    assert kinds.count(Int8LSTM) == 2 and kinds.count(Int8Linear) == 2 and CharTables in kinds
    assert nn.LSTM not in kinds and nn.Linear not in kinds and CharCNN not in kinds


def test_the_int8_taggers_first_lstm_layer_reads_inputs_within_its_fixed_bound():
    """The first layer's fixed input scale holds only if every embedding value lies in [-1, 1]."""
    net: Any = _tagger()
    quantized: Any = int8_copy(net)
    rows = net.lexical.words.weight.shape[0]
    words = torch.arange(rows).repeat_interleave(3)
    # Every row of the hashed table, and each with itself: the largest sums a token can get.
    hashed_rows = net.lexical.hashed[0].weight.shape[0]
    lexical = torch.stack([torch.arange(hashed_rows)] * 2, dim=1).repeat(len(words) // hashed_rows + 1, 1)
    with torch.no_grad():
        vectors = quantized.lexical(words, lexical[: len(words)].unsqueeze(1))
    assert vectors.abs().max().item() <= 1.0
    assert vectors.abs().max().item() > 0.9  # the bounds are reached, not loose


@pytest.mark.parametrize("depth", [1, 2])
def test_a_sequence_gets_the_same_int8_logits_alone_and_in_any_batch(depth):
    quantized = int8_copy(_tagger(depth))
    torch.manual_seed(2)
    lengths = [7, 1, 12, 5, 9, 3, 9]
    batch = random_batch(lengths)
    with torch.no_grad():
        together = quantized(batch)
        for first, count in [(0, 1), (2, 1), (3, 2), (1, 5), (6, 1)]:
            alone = quantized(_subset(batch, lengths, first, count))
            start = sum(lengths[:first])
            end = start + sum(lengths[first : first + count])
            for target in ("tag", "pos"):
                assert torch.equal(alone[target], together[target][start:end]), (first, count, target)


def test_char_tables_compute_the_cnn_scaled_into_0_1():
    torch.manual_seed(0)
    cnn = CharCNN(n_rows=40, embed_width=8, width=12, kernel_size=5)
    _trained_looking(cnn)  # the padding row too: positions beyond a word's edges still read zeros
    tables = CharTables(cnn)
    chars = torch.randint(0, 40, (200, 9))
    chars[:50, 6:] = 0  # short words, padded
    with torch.no_grad():
        expected = cnn(chars)
        got = tables(chars)
    assert torch.allclose(got * tables.bound, expected, atol=1e-5)
    assert got.min() >= 0.0 and got.max() <= 1.0
    assert got.max() > 0.3  # scaled by a bound that real words come near, not a loose one


def _lstm(hidden: int, layers: int, bidirectional: bool, batch_first: bool = False) -> nn.LSTM:
    torch.manual_seed(3)
    lstm = nn.LSTM(10, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    return _trained_looking(lstm)  # type: ignore[return-value]


@pytest.mark.parametrize(
    "hidden, layers, bidirectional", [(32, 1, True), (20, 2, True), (7, 1, False), (40, 3, False)]
)
def test_int8_lstm_follows_nn_lstm_on_packed_sequences(hidden, layers, bidirectional):
    lstm = _lstm(hidden, layers, bidirectional)
    quantized = Int8LSTM(lstm)
    torch.manual_seed(4)
    sequences = [torch.randn(n, 10) for n in (6, 2, 9, 1, 4)]
    packed = pack_sequence(sequences, enforce_sorted=False)
    with torch.no_grad():
        exact, (exact_h, exact_c) = lstm(packed)
        approx, (approx_h, approx_c) = quantized(packed)
    assert torch.equal(approx.batch_sizes, exact.batch_sizes)
    assert approx.data.shape == exact.data.shape and approx_h.shape == exact_h.shape
    assert approx_c.shape == exact_c.shape
    for got, want, tolerance in [
        (approx.data, exact.data, 0.05),
        (approx_h, exact_h, 0.05),
        (approx_c, exact_c, 0.1),
    ]:
        assert (got - want).abs().max().item() < tolerance
    # Final states are the states at each sequence's own end, in the input order.
    padded, lengths = pad_packed_sequence(approx)
    directions = 2 if bidirectional else 1
    for i, length in enumerate(lengths.tolist()):
        assert torch.equal(approx_h[-directions, i], padded[length - 1, i, :hidden])
        if bidirectional:
            assert torch.equal(approx_h[-1, i], padded[0, i, hidden:])


@pytest.mark.parametrize("batch_first", [False, True])
def test_int8_lstm_takes_padded_and_unbatched_tensors(batch_first):
    lstm = _lstm(16, 1, True, batch_first=batch_first)
    quantized = Int8LSTM(lstm)
    torch.manual_seed(5)
    batch = torch.randn(3, 5, 10)
    with torch.no_grad():
        exact, (exact_h, _) = lstm(batch)
        approx, (approx_h, _) = quantized(batch)
        alone, _ = quantized(batch[0] if batch_first else batch[:, 0])
    assert approx.shape == exact.shape and approx_h.shape == exact_h.shape
    assert (approx - exact).abs().max().item() < 0.05
    assert torch.equal(alone, approx[0] if batch_first else approx[:, 0])


def test_int8_lstm_inputs_beyond_1_are_scaled_per_token_not_per_batch():
    lstm = _lstm(16, 1, True)
    quantized = Int8LSTM(lstm)
    torch.manual_seed(6)
    small = torch.randn(5, 10) * 0.1
    large = torch.randn(8, 10) * 30.0
    with torch.no_grad():
        alone = quantized(pack_sequence([small]))[0].data
        beside_large = quantized(pack_sequence([large, small]))[0]
        padded, _ = pad_packed_sequence(beside_large)
        exact = lstm(pack_sequence([small]))[0].data
    assert torch.equal(padded[:5, 1], alone)
    assert (alone - exact).abs().max().item() < 0.05


def test_int8_lstm_refuses_initial_states_and_projections():
    lstm = _lstm(8, 1, False)
    with pytest.raises(ValueError, match="initial states"):
        Int8LSTM(lstm)(torch.randn(3, 1, 10), (torch.zeros(1, 1, 8), torch.zeros(1, 1, 8)))
    with pytest.raises(ValueError, match="proj_size"):
        Int8LSTM(nn.LSTM(10, 8, proj_size=4))


@pytest.mark.parametrize("input_bound", [None, 1.0, 3.0])
def test_int8_linear_rows_do_not_depend_on_each_other(input_bound):
    torch.manual_seed(7)
    linear = _trained_looking(nn.Linear(24, 9), std=0.2)
    quantized = Int8Linear(linear, input_bound=input_bound)  # type: ignore[arg-type]
    bound = input_bound or 5.0
    inputs = (torch.rand(40, 24) * 2 - 1) * bound
    inputs[3] *= 0.01  # a row far smaller than the others
    with torch.no_grad():
        together = quantized(inputs)
        exact = linear(inputs)
        for row in (0, 3, 39):
            assert torch.equal(quantized(inputs[row : row + 1]), together[row : row + 1])
        assert torch.equal(quantized(inputs.reshape(4, 10, 24)), together.reshape(4, 10, 9))
    scale = exact.abs().max().item()
    assert (together - exact).abs().max().item() < 0.03 * scale
    if input_bound is None:  # the small row keeps its precision: its own scale
        assert (together[3] - exact[3]).abs().max().item() < 0.03 * exact[3].abs().max().item()


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
    """TransformerEncoderLayer reads its linear layers' .weight tensors, which an
    Int8Linear does not have; those layers keep float weights."""
    torch.manual_seed(0)
    net = _TransformerNet().eval()
    assert quantizable_layers(net) == {"inputs", "outputs"}
    quantized: Any = int8_copy(net)
    assert type(quantized.inputs) is Int8Linear and type(quantized.outputs) is Int8Linear
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


def test_a_network_with_its_own_int8_copy_makes_it():
    class OwnCopy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def int8_copy(self) -> nn.Module:
            return nn.Identity()

    assert isinstance(int8_copy(OwnCopy()), nn.Identity)
