"""An int8 copy of a network for CPU inference (torch's dynamic quantization)."""

import copy
import warnings

import torch

QUANTIZED_TYPES = {torch.nn.LSTM, torch.nn.Linear}


def int8_copy(network: torch.nn.Module) -> torch.nn.Module:
    """A copy of the network, in eval mode, whose LSTM and Linear layers keep
    int8 weights and quantize their inputs on the fly. The network itself is
    left untouched. CPU only."""
    if torch.backends.quantized.engine == "none" or not hasattr(torch.ao, "quantization"):
        raise RuntimeError(
            f"torch_tagger int8_inference needs torch's dynamic quantization, which this torch "
            f"build ({torch.__version__}) does not offer. Set int8_inference = false."
        )
    frozen = copy.deepcopy(network).eval()
    with warnings.catch_warnings():
        # torch >= 2.9 marks torch.ao.quantization and qint8 tensors deprecated in
        # favour of torchao, which has no quantized LSTM; they still work in torch 2.14.
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        quantize = torch.ao.quantization.quantize_dynamic
        return quantize(frozen, QUANTIZED_TYPES, dtype=torch.qint8, inplace=True)
