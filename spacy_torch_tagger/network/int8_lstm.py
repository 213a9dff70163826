"""An int8 copy of nn.LSTM for CPU inference whose sequences never depend on each other.

torch's dynamically quantized LSTM scales the inputs of every time step by the range
of all the sequences at that step, so a sentence's tags changed with its batch. Here
each time step multiplies [input, previous hidden state] by int8 weights in one
product (int8_matmul.py): the hidden state lies in (-1, 1) and is scaled by that fixed
bound; the inputs are either known to lie in [-1, 1] (`bounded_input`) or are scaled
token by token by their own range. The backward direction runs over the reversed
sequences in step with the forward one.
"""

from typing import List, NamedTuple, Optional, Tuple, Union

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .int8_matmul import int8_matmul, pack_weight

# Sequences run together in chunks of this many, so that a step's rows stay in the
# CPU's cache (sequences never see each other, so the chunking changes no number).
SEQUENCES_PER_CHUNK = 128
# Hidden units are padded to a multiple of this (units with zero weights stay 0), so
# elementwise kernels run every value through the same vectorized code path.
UNIT_MULTIPLE = 32

LSTMInput = Union[torch.Tensor, PackedSequence]


class StepPlan(NamedTuple):
    """Where the tokens of a packed batch are, step by step."""

    batch_sizes: List[int]  # active sequences at each step (longest sequences first)
    step_starts: List[int]  # packed row of each step's first token
    reversed_rows: torch.Tensor  # (n_tokens,) packed row of the same token counted from the end


class Int8LSTM(nn.Module):
    """An inference copy of `lstm` (no projections) with int8 weights.

    Takes what nn.LSTM takes (a PackedSequence, or a padded tensor, batch_first or
    not, batched or not) without initial states, and returns (output, (h_n, c_n))
    like nn.LSTM. `input_scale` (n_in,): the inputs arrive divided by it, feature by
    feature (a caller that folded its bounds into the inputs). `bounded_input`: every
    first-layer input value lies in [-1, 1].
    """

    def __init__(
        self, lstm: nn.LSTM, input_scale: Optional[torch.Tensor] = None, bounded_input: bool = False
    ) -> None:
        super().__init__()
        if lstm.proj_size:
            raise ValueError("Int8LSTM does not support LSTMs with projections (proj_size > 0).")
        if not lstm.bias:
            raise ValueError("Int8LSTM needs an LSTM with biases (bias=True).")
        self.hidden_size = lstm.hidden_size
        self.padded_size = -(-lstm.hidden_size // UNIT_MULTIPLE) * UNIT_MULTIPLE
        self.num_layers = lstm.num_layers
        self.directions = 2 if lstm.bidirectional else 1
        self.batch_first = lstm.batch_first
        self.bounded_input = bounded_input
        # packed[layer][direction]: int8 [W_ih | W_hh], gates in the order i, f, o, g.
        self.packed: List[List[torch.ScriptObject]] = []
        self.first_layer_bias: List[torch.Tensor] = []  # added after the row scale when not bounded
        for layer in range(self.num_layers):
            by_direction = []
            for direction in range(self.directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                w_ih = getattr(lstm, "weight_ih" + suffix).detach().float()
                if layer == 0 and input_scale is not None:
                    w_ih = w_ih * input_scale.float()
                elif layer > 0:
                    w_ih = self._spread_units(w_ih, self.directions)
                w_hh = self._spread_units(getattr(lstm, "weight_hh" + suffix).detach().float(), 1)
                bias = (
                    (getattr(lstm, "bias_ih" + suffix) + getattr(lstm, "bias_hh" + suffix)).detach().float()
                )
                weight = self._gate_rows(torch.cat([w_ih, w_hh], dim=1))
                bias = self._gate_rows(bias.unsqueeze(1)).squeeze(1)
                if layer == 0 and not bounded_input:
                    by_direction.append(pack_weight(weight, None))
                    self.first_layer_bias.append(bias)
                else:
                    by_direction.append(pack_weight(weight, bias))
            self.packed.append(by_direction)

    def _spread_units(self, weight: torch.Tensor, blocks: int) -> torch.Tensor:
        """Columns of `blocks` blocks of hidden_size units, each padded to padded_size."""
        rows = weight.shape[0]
        spread = weight.new_zeros((rows, blocks, self.padded_size))
        spread[:, :, : self.hidden_size] = weight.reshape(rows, blocks, self.hidden_size)
        return spread.reshape(rows, blocks * self.padded_size)

    def _gate_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """torch's gate blocks (i, f, g, o) of hidden_size rows -> (i, f, o, g) of padded_size rows."""
        hidden = self.hidden_size
        gates = rows.reshape(4, hidden, rows.shape[1])
        reordered = rows.new_zeros((4, self.padded_size, rows.shape[1]))
        reordered[:, :hidden] = gates[[0, 1, 3, 2]]
        return reordered.reshape(4 * self.padded_size, rows.shape[1])

    def forward(
        self, inputs: LSTMInput, states: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    ) -> Tuple[LSTMInput, Tuple[torch.Tensor, torch.Tensor]]:
        if states is not None:
            raise ValueError(
                "int8_inference: this network passes initial states to an LSTM, which the int8 copy "
                "does not support. Set int8_inference = false."
            )
        if isinstance(inputs, PackedSequence):
            data, batch_sizes = inputs.data, inputs.batch_sizes
        else:
            batched = inputs.dim() == 3
            padded = inputs if batched else inputs.unsqueeze(1)
            if self.batch_first and batched:
                padded = padded.transpose(0, 1)
            n_steps, n_sequences = padded.shape[0], padded.shape[1]
            data = padded.reshape(n_steps * n_sequences, padded.shape[2])
            batch_sizes = torch.full((n_steps,), n_sequences, dtype=torch.long)
        plan = step_plan(batch_sizes)
        layer_input = data.float()
        finals_h: List[torch.Tensor] = []
        finals_c: List[torch.Tensor] = []
        for layer in range(self.num_layers):
            layer_input, final_h, final_c = self._layer(layer, layer_input, plan)
            finals_h.append(final_h)
            finals_c.append(final_c)
        output = self._unpad(layer_input)
        h_n = self._unpad(torch.cat(finals_h))
        c_n = self._unpad(torch.cat(finals_c))
        if isinstance(inputs, PackedSequence):
            if inputs.unsorted_indices is not None:
                h_n, c_n = h_n[:, inputs.unsorted_indices], c_n[:, inputs.unsorted_indices]
            packed = PackedSequence(
                output, inputs.batch_sizes, inputs.sorted_indices, inputs.unsorted_indices
            )
            return packed, (h_n, c_n)
        padded_output = output.reshape(n_steps, n_sequences, output.shape[1])
        if not batched:
            return padded_output.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        if self.batch_first:
            padded_output = padded_output.transpose(0, 1)
        return padded_output, (h_n, c_n)

    def _unpad(self, values: torch.Tensor) -> torch.Tensor:
        """Drop the padding units of the last dimension (directions side by side)."""
        if self.padded_size == self.hidden_size:
            return values
        blocks = values.shape[-1] // self.padded_size
        spread = values.reshape(*values.shape[:-1], blocks, self.padded_size)
        return spread[..., : self.hidden_size].reshape(*values.shape[:-1], blocks * self.hidden_size)

    def _layer(
        self, layer: int, inputs: torch.Tensor, plan: StepPlan
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One layer over all sequences: (n_tokens, directions * padded_size) outputs in
        packed order, and the final hidden and cell states (directions, n_sequences, padded_size)."""
        units = self.padded_size
        n_sequences = plan.batch_sizes[0]
        scales = None
        if layer == 0 and not self.bounded_input:
            # A token's [input, hidden] row is scaled by max(1, its input's range).
            scales = inputs.abs().amax(dim=1, keepdim=True).clamp(min=1.0)
            inputs = inputs / scales
        outputs = inputs.new_empty((inputs.shape[0], self.directions * units))
        final_h = inputs.new_zeros((self.directions, n_sequences, units))
        final_c = inputs.new_zeros((self.directions, n_sequences, units))
        for first in range(0, n_sequences, SEQUENCES_PER_CHUNK):
            self._chunk(layer, inputs, scales, plan, first, outputs, (final_h, final_c))
        return outputs, final_h, final_c

    def _chunk(
        self,
        layer: int,
        inputs: torch.Tensor,
        scales: Optional[torch.Tensor],
        plan: StepPlan,
        first: int,
        outputs: torch.Tensor,
        finals: Tuple[torch.Tensor, torch.Tensor],
    ) -> None:
        """Run sequences first .. first + SEQUENCES_PER_CHUNK - 1 (the active ones are a
        prefix of them at every step); write their outputs and final states.

        rows[d, i] holds [input, previous hidden state] of the chunk's i-th sequence in
        direction d: the inputs are copied in at each step, the hidden state is written
        there directly. The backward direction reads each sequence from its end, so both
        directions have the same active sequences at every step."""
        units = self.padded_size
        width = inputs.shape[1]
        size = min(SEQUENCES_PER_CHUNK, plan.batch_sizes[0] - first)
        rows = inputs.new_zeros((self.directions, size, width + units))
        cells = inputs.new_zeros((self.directions, size, units))
        for step, (active, start) in enumerate(zip(plan.batch_sizes, plan.step_starts, strict=True)):
            n = min(active - first, size)
            if n <= 0:
                break
            tokens = slice(start + first, start + first + n)
            following = plan.batch_sizes[step + 1] - first if step + 1 < len(plan.batch_sizes) else 0
            following = min(max(following, 0), n)
            for direction in range(self.directions):
                # The packed rows of this step's tokens, in the direction's reading order.
                where = tokens if direction == 0 else plan.reversed_rows[tokens]
                rows[direction, :n, :width] = inputs[where]
                hidden = rows[direction, :n, width:]
                if scales is None:
                    gates = int8_matmul(rows[direction, :n], self.packed[layer][direction])
                else:
                    scale = scales[where]
                    hidden.div_(scale)
                    gates = int8_matmul(rows[direction, :n], self.packed[layer][direction])
                    gates.mul_(scale).add_(self.first_layer_bias[direction])
                gates[:, : 3 * units].sigmoid_()
                gates[:, 3 * units :].tanh_()
                cell = cells[direction, :n]
                cell.mul_(gates[:, units : 2 * units]).addcmul_(gates[:, :units], gates[:, 3 * units :])
                torch.mul(gates[:, 2 * units : 3 * units], torch.tanh(cell), out=hidden)
                outputs[where, direction * units : (direction + 1) * units] = hidden
                if following < n:  # sequences ending at this step
                    ended = slice(first + following, first + n)
                    finals[0][direction, ended] = hidden[following:]
                    finals[1][direction, ended] = cell[following:]


def step_plan(batch_sizes: torch.Tensor) -> StepPlan:
    """The StepPlan of a packed batch with these batch sizes (a CPU tensor)."""
    sizes = batch_sizes.cpu()
    n_steps = len(sizes)
    starts = torch.zeros(n_steps, dtype=torch.long)
    starts[1:] = torch.cumsum(sizes, 0)[:-1]
    lengths = (sizes.unsqueeze(0) > torch.arange(int(sizes[0])).unsqueeze(1)).sum(dim=1)
    step_of_row = torch.repeat_interleave(torch.arange(n_steps), sizes)
    sequence_of_row = torch.arange(int(sizes.sum())) - starts[step_of_row]
    reversed_rows = starts[lengths[sequence_of_row] - 1 - step_of_row] + sequence_of_row
    return StepPlan(sizes.tolist(), starts.tolist(), reversed_rows)
