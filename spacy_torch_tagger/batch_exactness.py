"""Which torch_tagger settings give a doc the same numbers, to the last bit, in any batch.

Every setting gives a doc the same tags in any batch in every measurement
(benchmarks/batch_invariance.py). Bit for bit, probabilities included:

- int8 inference on CPU with the default LSTM network: int8 products of inputs
  scaled by bounds from the weights, summed in exact integers (network/int8*.py);
- a network on a pretrained encoder without a BiLSTM on top, in bfloat16 or int8:
  each window is padded by its own length (network/transformer_tagger.py).

Elsewhere float32 layers run (LSTMs always run in float32): float32 matrix kernels
pick their code path by the number of rows, so a probability can differ in its last
digits (at most 1e-5 in the tests) between batch sizes, processes and engines.
"""

from typing import Optional

from spacy.language import Language

from .component import TorchTagger
from .network import LSTMTagger
from .network.transformer_tagger import TransformerTagger
from .tagger_model import network_of, tagger_shim

FLOAT32_NOTE = (
    "{name} runs float32 layers, whose probabilities can differ in the last digits between "
    "batches, processes and engines (tags are the same in every measurement); a resumed or "
    "distributed run can therefore write other bytes than one uninterrupted run. "
    'int8_inference = true (default LSTM network) or precision = "bfloat16" (pretrained encoder) '
    "gives bit-identical results."
)


def exact_in_any_batch(pipe: TorchTagger) -> bool:
    """Whether the component gives a doc bit-identical numbers in any batch."""
    shim = tagger_shim(pipe.model)
    network = network_of(pipe.model)
    if network is None:
        return False
    if shim.uses_int8() and isinstance(network, LSTMTagger):
        return True
    if isinstance(network, TransformerTagger) and network.context is None:
        return shim.uses_int8() or shim.bfloat16
    return False


def inexact_note(nlp: Language) -> Optional[str]:
    """A note naming the torch_tagger components that are not bit-exact across batches, or None."""
    names = [
        name for name, pipe in nlp.pipeline if isinstance(pipe, TorchTagger) and not exact_in_any_batch(pipe)
    ]
    if not names:
        return None
    return FLOAT32_NOTE.format(name=" and ".join(repr(name) for name in names))
