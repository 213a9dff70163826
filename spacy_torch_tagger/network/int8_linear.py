"""An int8 copy of nn.Linear for CPU inference whose rows never depend on each other."""

from typing import Optional

import torch
from torch import nn

from .int8_matmul import int8_matmul, pack_weight


class Int8Linear(nn.Module):
    """`linear` with int8 weights (see int8_matmul.py).

    With `input_bound` (every input value is known to lie in [-input_bound,
    input_bound], e.g. the outputs of an LSTM in (-1, 1)), inputs are scaled by that
    fixed number. Without it, each row is scaled by its own largest absolute value.
    Either way a row's output depends on that row alone.
    """

    def __init__(self, linear: nn.Linear, input_bound: Optional[float] = None) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.input_bound = input_bound
        bias = None if linear.bias is None else linear.bias.detach().float()
        if input_bound is not None:
            if not input_bound > 0:
                raise ValueError(f"Int8Linear input_bound must be > 0, got {input_bound}.")
            self.packed = pack_weight(linear.weight * input_bound, bias)
            self.bias = None
        else:
            # The bias is added after each row's scale is undone.
            self.packed = pack_weight(linear.weight, None)
            self.bias = bias

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        rows = inputs.reshape(-1, self.in_features).float()
        if self.input_bound is not None:
            outputs = int8_matmul(rows / self.input_bound if self.input_bound != 1.0 else rows, self.packed)
        else:
            row_scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
            outputs = int8_matmul(rows / row_scale, self.packed)
            outputs.mul_(row_scale)
            if self.bias is not None:
                outputs.add_(self.bias)
        return outputs.reshape(*inputs.shape[:-1], self.out_features)

    def dequantized_weight(self) -> torch.Tensor:
        """(out_features, in_features): the float weights the int8 ones stand for."""
        weight, _bias = torch.ops.quantized.linear_unpack(self.packed)
        return weight.dequantize() / (self.input_bound or 1.0)

    def extra_repr(self) -> str:
        scale = "per row" if self.input_bound is None else f"fixed, |input| <= {self.input_bound}"
        return f"in_features={self.in_features}, out_features={self.out_features}, input scale {scale}"
