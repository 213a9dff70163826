"""Which torch_tagger settings give a doc the same numbers, to the last bit, in any batch.

Every setting gives a doc the same tags in any batch in every measurement
(benchmarks/batch_invariance.py). Bit for bit, probabilities included, on CPU:

- int8 inference with the default LSTM network: int8 products of inputs scaled by
  bounds from the weights, summed in exact integers (network/int8*.py);
- a network on a pretrained encoder without a BiLSTM on top, in bfloat16 or int8:
  each window is padded by its own length (network/transformer_tagger.py).

Elsewhere float32 layers run (LSTMs always run in float32): float32 matrix kernels
pick their code path by the number of rows, so a probability can differ in its last
digits (at most 1e-5 in the tests) between batch sizes, processes and engines. A
network of your own is not known to be exact.
"""

from typing import Any, List, Mapping, Optional

LSTM_NETWORK = "spacy_torch_tagger.LSTMNetwork.v1"
TRANSFORMER_NETWORK = "spacy_torch_tagger.TransformerNetwork.v1"

INEXACT_NOTE = (
    "{names} may give a probability other last digits in another batch, process or engine "
    "(float32 layers, or a network of your own; no tag differed in our measurements), so a "
    "resumed or distributed run can write other bytes than one uninterrupted run. "
    'int8_inference = true (default LSTM network) or precision = "bfloat16" (pretrained encoder) '
    "gives bit-identical results."
)


def exact_in_any_batch(component: Mapping[str, Any]) -> bool:
    """Whether a torch_tagger, given by its config block (`nlp.config["components"][name]`
    or a pipeline's config.cfg), gives a doc bit-identical numbers in any batch on CPU."""
    model = component.get("model", {})
    network = model.get("network", {})
    architecture = network.get("@architectures")
    int8 = bool(model.get("int8_inference", False))
    if architecture == LSTM_NETWORK:
        return int8
    if architecture == TRANSFORMER_NETWORK and not network.get("lstm_width", 0):
        return int8 or model.get("precision") == "bfloat16"
    return False


def inexact_note(config: Mapping[str, Any]) -> Optional[str]:
    """A note naming the torch_tagger components of a pipeline config that are not
    bit-exact across batches, or None."""
    components = config.get("components", {})
    names: List[str] = [
        name
        for name in config.get("nlp", {}).get("pipeline", [])
        if components.get(name, {}).get("factory") == "torch_tagger"
        and not exact_in_any_batch(components[name])
    ]
    if not names:
        return None
    return INEXACT_NOTE.format(names=" and ".join(f"torch_tagger {name!r}" for name in names))
