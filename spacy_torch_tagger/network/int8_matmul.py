"""The int8 matrix product every int8 layer uses: inputs in [-1, 1] quantized with one
fixed scale, int8 weights with a scale per output, products summed in int32.

A row's result depends on that row and the weights only: the quantization of an
input value does not look at the other rows (unlike torch's dynamic quantization,
which scales each call's inputs by their joint range), and integer sums are exact in
any order. So the same token gets the same numbers in any batch.

Inputs take 7 bits (127 levels in [-1, 1]): pairs of 7-bit by 8-bit products fit the
16-bit intermediate sums of CPUs without VNNI, so every x86 CPU computes the same
integers (torch's dynamic quantization uses 7 bits on x86 for the same reason).
"""

import warnings
from typing import Optional

import torch

INPUT_SCALE = 1.0 / 63.0  # an input of 1.0 is level 63 above the zero point
INPUT_ZERO_POINT = 64  # uint8 levels 1 ... 127 cover [-1, 1]


class Int8UnavailableError(RuntimeError):
    """This torch build has no quantized CPU kernels."""


def check_int8_support() -> None:
    """Raise Int8UnavailableError when torch offers no quantized linear kernels here."""
    engine = torch.backends.quantized.engine
    if engine == "none" or not hasattr(torch.ops.quantized, "linear_with_input_q_dq_qweight_dq_output_fp32"):
        raise Int8UnavailableError(
            f"torch_tagger int8_inference needs torch's quantized CPU kernels, which this torch build "
            f"({torch.__version__}, quantized engine {engine!r}) does not offer. Set int8_inference = false."
        )


def pack_weight(weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.ScriptObject:
    """(n_out, n_in) float weights as int8 with a scale per output row, prepacked
    with the (float) bias for `int8_matmul`."""
    weight = weight.detach().float().contiguous()
    scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0).double()
    zero_points = torch.zeros(weight.shape[0], dtype=torch.long)
    with warnings.catch_warnings():
        # torch >= 2.9 marks quantized tensors deprecated in favour of torchao; the
        # quantized CPU kernels below still need them to pack weights.
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        quantized = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
    packed_bias = None if bias is None else bias.detach().float().contiguous()
    return torch.ops.quantized.linear_prepack(quantized, packed_bias)


def int8_matmul(inputs: torch.Tensor, packed: torch.ScriptObject) -> torch.Tensor:
    """inputs (n, n_in) float, every value in [-1, 1] -> (n, n_out) float32:
    inputs @ weight.T + bias, with 7-bit inputs and int8 weights."""
    return torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(
        inputs, INPUT_SCALE, INPUT_ZERO_POINT, packed
    )
