"""An int8 copy of a network for CPU inference (torch's dynamic quantization)."""

import copy
import warnings
from typing import Set

import torch
from torch import nn

QUANTIZED_TYPES = (nn.LSTM, nn.Linear)

# Stock layers whose forward reads the `weight` tensors of their Linear children
# (the fast-path checks of the transformer layers). A dynamically quantized Linear
# exposes `weight()` as a method, so the Linear layers inside these stay float.
READS_CHILD_WEIGHTS = (
    nn.Transformer,
    nn.TransformerEncoder,
    nn.TransformerDecoder,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
    nn.MultiheadAttention,
)


def quantizable_layers(network: nn.Module) -> Set[str]:
    """Names of the LSTM and Linear layers an int8 copy swaps: all of them
    except those inside a layer listed in READS_CHILD_WEIGHTS."""
    if isinstance(network, READS_CHILD_WEIGHTS):
        return set()
    kept_float = tuple(
        f"{name}." for name, module in network.named_modules() if isinstance(module, READS_CHILD_WEIGHTS)
    )
    return {
        name
        for name, module in network.named_modules()
        if type(module) in QUANTIZED_TYPES and not name.startswith(kept_float)
    }


def int8_copy(network: nn.Module) -> nn.Module:
    """A copy of the network, in eval mode, whose LSTM and Linear layers keep
    int8 weights and quantize their inputs on the fly. The network itself is
    left untouched. CPU only."""
    if torch.backends.quantized.engine == "none" or not hasattr(torch.ao, "quantization"):
        raise RuntimeError(
            f"torch_tagger int8_inference needs torch's dynamic quantization, which this torch "
            f"build ({torch.__version__}) does not offer. Set int8_inference = false."
        )
    frozen = copy.deepcopy(network).eval()
    layers = quantizable_layers(frozen)
    if not layers:
        return frozen
    with warnings.catch_warnings():
        # torch >= 2.9 marks torch.ao.quantization and qint8 tensors deprecated in
        # favour of torchao, which has no quantized LSTM; they still work in torch 2.14.
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        quantize = torch.ao.quantization.quantize_dynamic
        return quantize(frozen, layers, dtype=torch.qint8, inplace=True)
