"""An int8 copy of a network for CPU inference, whose results for a sequence do not
depend on the other sequences of its batch.

The default network (LSTMTagger) gets int8_lstm_tagger.py's copy, whose scales all come
from the weights; a network with an `int8_copy()` method (contract.MakesInt8Copy) makes
its own. In any other network every nn.Linear becomes an Int8Linear (each row scaled by
its own range) and every nn.LSTM without projections an Int8LSTM, except layers inside a
stock torch transformer layer (READS_CHILD_WEIGHTS), which stay float.
"""

import copy
from typing import Set, cast

from torch import nn

from .contract import MakesInt8Copy
from .int8_linear import Int8Linear
from .int8_lstm import Int8LSTM
from .int8_lstm_tagger import int8_lstm_tagger
from .int8_matmul import check_int8_support
from .lstm_tagger import LSTMTagger

# Stock layers whose forward reads the `weight` tensors of their Linear children
# (the fast-path checks of the transformer layers). An Int8Linear holds packed int8
# weights instead, so the Linear layers inside these stay float.
READS_CHILD_WEIGHTS = (
    nn.Transformer,
    nn.TransformerEncoder,
    nn.TransformerDecoder,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
    nn.MultiheadAttention,
)


def _quantizable(module: nn.Module) -> bool:
    if type(module) is nn.Linear:
        return True
    return type(module) is nn.LSTM and not module.proj_size and module.bias


def quantizable_layers(network: nn.Module) -> Set[str]:
    """Names of the Linear and LSTM layers a generic int8 copy swaps: all of them
    (LSTMs without projections) except those inside a layer listed in READS_CHILD_WEIGHTS."""
    if isinstance(network, READS_CHILD_WEIGHTS):
        return set()
    kept_float = tuple(
        f"{name}." for name, module in network.named_modules() if isinstance(module, READS_CHILD_WEIGHTS)
    )
    return {
        name
        for name, module in network.named_modules()
        if _quantizable(module) and not name.startswith(kept_float)
    }


def int8_copy(network: nn.Module) -> nn.Module:
    """An eval-mode copy of the network with int8 layers and no gradients; the
    network itself is left untouched. CPU only."""
    check_int8_support()
    if isinstance(network, LSTMTagger):
        return int8_lstm_tagger(network)
    if isinstance(network, MakesInt8Copy):
        return network.int8_copy()
    frozen = copy.deepcopy(network).eval().requires_grad_(False)
    for name in sorted(quantizable_layers(frozen)):
        layer = frozen.get_submodule(name)
        int8_layer = Int8Linear(layer) if isinstance(layer, nn.Linear) else Int8LSTM(cast(nn.LSTM, layer))
        if not name:
            return int8_layer
        parent_name, _, child = name.rpartition(".")
        setattr(frozen.get_submodule(parent_name), child, int8_layer)
    return frozen
