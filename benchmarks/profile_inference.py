"""Where CPU inference time goes: the split of `nlp.pipe` over its stages.

Wraps the stages of a trained torch_tagger pipeline with timers (spaCy's
tokenizer, featurizing, building the torch batch, the torch network, turning
logits into per-doc arrays, argmax decoding, setting annotations), runs
`nlp.pipe` over the raw dev texts and reports each stage's share.

Torch runs on the pipeline's `torch_threads` (1 unless its config says otherwise).

usage: python benchmarks/profile_inference.py MODEL_DIR DEV.spacy [--output results/profile.json]
"""

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, cast

import spacy
import torch
from machine import machine_description
from spacy.tokens import DocBin

import spacy_torch_tagger.layers.network_input as convert_module
import spacy_torch_tagger.layers.tagger_model as tagger_model_module
from spacy_torch_tagger.layers.tagger_model import tagger_shim
from spacy_torch_tagger.pipeline.component import TorchTagger

Timers = Dict[str, float]


def timed(timers: Timers, stage: str, function: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timers[stage] += time.perf_counter() - start

    return wrapper


def instrument(nlp: spacy.Language, timers: Timers) -> None:
    """Put timers around every stage of the tagger's inference."""
    tagger = cast(TorchTagger, nlp.get_pipe("torch_tagger"))
    convert_module.featurize = timed(timers, "featurize", convert_module.featurize)
    tagger_model_module.docs_to_batch = timed(
        timers, "docs to batch (all)", tagger_model_module.docs_to_batch
    )
    tagger_model_module.join_logits = timed(timers, "check and join logits", tagger_model_module.join_logits)
    # thinc models have __slots__: time the forward function that predict calls.
    tagger.model._func = timed(timers, "model.predict (all)", tagger.model._func)
    setattr(tagger, "predict", timed(timers, "component.predict (all)", tagger.predict))  # noqa: B010
    setattr(tagger, "set_annotations", timed(timers, "set annotations", tagger.set_annotations))  # noqa: B010
    nlp.tokenizer = timed(timers, "tokenizer", nlp.tokenizer)
    shim = tagger_shim(tagger.model)
    # With int8_inference the CPU forward pass runs the shim's int8 copy.
    network = shim.int8_network() if shim.uses_int8() else shim.network
    assert network is not None, "the pipeline has no trained network"
    time_module(network, timers, "torch network")
    for name, child in network.named_children():
        time_module(child, timers, f"  network.{name}")


def time_module(module: torch.nn.Module, timers: Timers, stage: str) -> None:
    """Add the wall time of every forward call of `module` to timers[stage]."""
    starts: List[float] = []
    module.register_forward_pre_hook(lambda _module, _args: starts.append(time.perf_counter()))

    def after_forward(_module: torch.nn.Module, _args: Any, _output: Any) -> None:
        timers[stage] += time.perf_counter() - starts.pop()

    module.register_forward_hook(after_forward)


def split(timers: Timers, total: float) -> Dict[str, float]:
    """Exclusive seconds per stage."""
    to_tensors = timers["docs to batch (all)"] - timers["featurize"]
    model_rest = timers["model.predict (all)"] - timers["docs to batch (all)"] - timers["torch network"]
    model_rest -= timers["check and join logits"]
    stages = {
        "tokenizer": timers["tokenizer"],
        "featurize (numpy)": timers["featurize"],
        "torch batch from arrays": to_tensors,
        "torch network (embed, char CNN, LSTM, heads)": timers["torch network"],
        "check and join logits": timers["check and join logits"],
        "thinc model, rest (per-doc split)": model_rest,
        "argmax decoding": timers["component.predict (all)"] - timers["model.predict (all)"],
        "set annotations": timers["set annotations"],
    }
    stages["spaCy pipe machinery, rest"] = total - sum(stages.values())
    # Inside the network (already counted in its total; dropout and glue are the rest).
    stages.update({stage: seconds for stage, seconds in timers.items() if stage.startswith("  network.")})
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    texts = [doc.text for doc in DocBin().from_disk(args.dev).get_docs(nlp.vocab)]
    list(nlp.pipe(texts[:200]))
    timers: Timers = defaultdict(float)
    instrument(nlp, timers)
    start = time.perf_counter()
    n_words = sum(len(doc) for doc in nlp.pipe(texts))
    total = time.perf_counter() - start
    stages = split(timers, total)
    print(f"{args.model}: {n_words} words in {total:.2f} s ({n_words / total:,.0f} words/s, profiled)")
    for stage, seconds in stages.items():
        print(f"  {stage:46} {seconds:7.3f} s  {100 * seconds / total:5.1f} %")
    if args.output:
        report = {
            "model": str(args.model),
            "words": n_words,
            "seconds": round(total, 3),
            "torch_threads": torch.get_num_threads(),
            "machine": machine_description(),
            "stages_seconds": {stage: round(seconds, 4) for stage, seconds in stages.items()},
        }
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
