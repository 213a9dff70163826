"""A (bi)directional LSTM run over each sequence of a flat, concatenated batch."""

from typing import Dict, Tuple

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence


class LSTMEncoder(nn.Module):
    """Contextualize token vectors within each sequence (a sentence, or a doc
    without sentence boundaries); sequences never see each other.

    Layers are separate LSTMs with an `nn.Dropout` between them, so the
    dropout rate set from spaCy's training config reaches every layer.
    """

    def __init__(self, input_width: int, hidden_width: int, depth: int, bidirectional: bool) -> None:
        super().__init__()
        if hidden_width < 1 or depth < 1:
            raise ValueError(f"LSTM hidden_width and depth must be >= 1, got {hidden_width} and {depth}.")
        self.output_width = hidden_width * (2 if bidirectional else 1)
        self.layers = nn.ModuleList(
            nn.LSTM(
                input_width if i == 0 else self.output_width,
                hidden_width,
                bidirectional=bidirectional,
                batch_first=True,
            )
            for i in range(depth)
        )
        self.dropout = nn.Dropout(0.0)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(n_tokens, input_width) and (n_sequences,) sequence lengths -> (n_tokens, output_width).

        Runs in float32 under autocast too: a bfloat16 LSTM rounds each time step's
        product differently with the number of sequences still running, so a
        sentence's vectors changed with its batch (and were no faster)."""
        if tokens.shape[0] == 0:
            return tokens.new_zeros((0, self.output_width))
        with torch.autocast(device_type=tokens.device.type, enabled=False):
            return self._run(tokens.float(), lengths)

    def _run(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed_rows, batch_sizes, sorted_sequences, sequence_ranks = packing_plan(lengths)
        packed_rows = packed_rows.to(tokens.device)
        data = tokens.new_empty(tokens.shape)
        data[packed_rows] = tokens
        for i, layer in enumerate(self.layers):
            if i > 0:
                data = self.dropout(data)
            packed = PackedSequence(
                data, batch_sizes, sorted_sequences.to(tokens.device), sequence_ranks.to(tokens.device)
            )
            data = layer(packed)[0].data
        return data[packed_rows]


def packing_plan(lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where each token of a flat batch goes in torch's packed layout.

    Packed data is ordered by time step, then by sequence, longest sequence
    first. Doing the permutation with one index op avoids torch's pad -> sort
    -> pack -> unpad round trip. Returns (packed row of each token,
    batch_sizes, sequences by decreasing length, rank of each sequence in that
    order); all on the CPU.
    """
    lengths = lengths.cpu()
    sorted_sequences = torch.argsort(lengths, descending=True, stable=True)
    sequence_ranks = torch.empty_like(sorted_sequences)
    sequence_ranks[sorted_sequences] = torch.arange(len(lengths))
    steps = torch.arange(int(lengths.max()))
    batch_sizes = (lengths.unsqueeze(0) > steps.unsqueeze(1)).sum(dim=1)
    step_starts = torch.cumsum(batch_sizes, 0) - batch_sizes
    sequence_of_token = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    sequence_starts = torch.cumsum(lengths, 0) - lengths
    step_of_token = torch.arange(int(lengths.sum())) - sequence_starts[sequence_of_token]
    packed_rows = step_starts[step_of_token] + sequence_ranks[sequence_of_token]
    return packed_rows, batch_sizes, sorted_sequences, sequence_ranks


def float32_heads(heads: nn.ModuleDict, hidden: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Each head over an LSTMEncoder's float32 outputs, in float32 under autocast too:
    a bfloat16 product would turn the last-digit differences float32 kernels make
    between batch shapes into bfloat16-sized ones."""
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        return {target: head(hidden.float()) for target, head in heads.items()}
