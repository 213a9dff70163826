"""The int8 inference copy of the default tagging network (LSTMTagger).

Every value entering an int8 product has a bound known from the weights alone, so
no scale is computed from the batch: each embedding column is divided by the
largest value it can take (the hashed tables sum `n_hashes` rows), the character CNN
becomes table lookups divided by each filter's largest output (char_tables.py), the
first LSTM layer's input weights are multiplied back by those bounds, and the LSTM
outputs the deeper layers and the heads read lie in (-1, 1).
"""

import copy
from typing import TYPE_CHECKING, List

import torch
from torch import nn

from .char_cnn import CharCNN
from .char_tables import CharTables
from .int8_linear import Int8Linear
from .int8_lstm import Int8LSTM

if TYPE_CHECKING:
    from .lstm_tagger import LSTMTagger


def int8_lstm_tagger(tagger: "LSTMTagger") -> "LSTMTagger":
    """A copy of `tagger`, in eval mode, that tags with int8 LSTM and linear layers;
    `tagger` itself is left untouched."""
    frozen = copy.deepcopy(tagger).eval().requires_grad_(False)
    bounds: List[torch.Tensor] = []
    with torch.no_grad():
        for table, rows_summed in frozen.lexical.tables_and_rows_summed(frozen.n_hashes):
            bound = (table.weight.abs().amax(dim=0) * rows_summed).clamp(min=torch.finfo(torch.float32).tiny)
            table.weight.div_(bound)
            bounds.append(bound)
    if isinstance(frozen.chars, CharCNN):
        tables = CharTables(frozen.chars)
        frozen.chars = tables
        bounds.append(tables.bound)
    layers = frozen.encoder.layers
    for i, layer in enumerate(layers):
        assert isinstance(layer, nn.LSTM)
        input_scale = torch.cat(bounds) if i == 0 else None
        layers[i] = Int8LSTM(layer, input_scale=input_scale, bounded_input=True)
    for target, head in frozen.heads.items():
        assert isinstance(head, nn.Linear)
        frozen.heads[target] = Int8Linear(head, input_bound=1.0)
    return frozen
