"""CPU inference settings tried on a trained torch_tagger pipeline: words/s and dev accuracy.

Variants: torch threads (1, the component's default `torch_threads`, or 2),
`nlp.pipe` batch size, length-sorted batches, `torch.inference_mode`, the int8
copy of the LSTM and linear layers (the `int8_inference` setting; results measured
before 0.3.0 are of torch's dynamic quantization, whose scales came from the batch)
and bfloat16 autocast (`precision = "bfloat16"`).
Two processes (`nlp.pipe(n_process=2)`, one torch thread each) are timed including
their start. Each variant's words/s is the median of --rounds passes over the raw dev texts,
the variants alternating within every round. With --busy N, N processes spin on
a core each while the rounds run (a shared machine).

usage: python benchmarks/inference_variants.py MODEL_DIR DEV.spacy [--busy N] [--output FILE.json]
"""

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, ContextManager, Dict, Iterator, List, Tuple

import spacy
import torch
from machine import machine_description
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

Setting = Callable[[], ContextManager[object]]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tag(nlp: Language, texts: List[str], batch_size: int, sort_by_length: bool, n_process: int = 1) -> int:
    """Tag all texts in n_process processes; with sort_by_length, batches hold texts of similar length."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if sort_by_length else range(len(texts))
    docs = nlp.pipe((texts[i] for i in order), batch_size=batch_size, n_process=n_process)
    return sum(len(doc) for doc in docs)


def gold_token_example(nlp: Language, gold: Doc) -> Example:
    """An example whose predicted doc has the gold tokens (as `spacy evaluate --gold-preproc`)."""
    words = [token.text for token in gold]
    spaces = [bool(token.whitespace_) for token in gold]
    return Example(Doc(nlp.vocab, words=words, spaces=spaces), gold)


def load(model_dir: Path, int8_inference: bool, precision: str = "float32") -> Language:
    """The pipeline, its torch_tagger set to tag with float32, bfloat16 autocast or
    int8 weights, leaving torch's thread count to the variants."""
    model = {"int8_inference": int8_inference, "precision": precision}
    settings = {"torch_threads": None, "model": model}
    return spacy.load(model_dir, config={"components": {"torch_tagger": settings}})


def in_threads(n: int, inference_mode: bool = False) -> Setting:
    def setting() -> ContextManager[object]:
        stack = contextlib.ExitStack()
        stack.enter_context(torch_threads(n))
        if inference_mode:
            stack.enter_context(torch.inference_mode())
        return stack

    return setting


@contextlib.contextmanager
def busy_cores(n: int) -> Iterator[None]:
    """n processes spinning on a core each, for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"]) for _ in range(n)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on a core during the rounds")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    nlp = load(args.model, int8_inference=False)
    int8 = load(args.model, int8_inference=True)
    bfloat16 = load(args.model, int8_inference=False, precision="bfloat16")
    gold = list(DocBin().from_disk(args.dev).get_docs(nlp.vocab))
    texts = [doc.text for doc in gold]
    # name -> (pipeline, batch size, length-sorted, torch setting, processes)
    variants: Dict[str, Tuple[Language, int, bool, Setting, int]] = {
        "float, 1 thread, batch_size 256": (nlp, 256, False, in_threads(1), 1),
        "float, 2 threads": (nlp, 256, False, in_threads(2), 1),
        "float, batch_size 64": (nlp, 64, False, in_threads(1), 1),
        "float, batch_size 1000": (nlp, 1000, False, in_threads(1), 1),
        "float, length-sorted batches": (nlp, 256, True, in_threads(1), 1),
        "float, torch.inference_mode": (nlp, 256, False, in_threads(1, inference_mode=True), 1),
        "int8, 1 thread, batch_size 256": (int8, 256, False, in_threads(1), 1),
        "int8, 2 threads": (int8, 256, False, in_threads(2), 1),
        "int8, length-sorted batches": (int8, 256, True, in_threads(1), 1),
        "bfloat16 autocast, 1 thread": (bfloat16, 256, False, in_threads(1), 1),
        "bfloat16 autocast, 2 threads": (bfloat16, 256, False, in_threads(2), 1),
        "bfloat16 autocast, length-sorted batches": (bfloat16, 256, True, in_threads(1), 1),
        "bfloat16 autocast, 2 processes of 1 thread": (bfloat16, 256, False, in_threads(1), 2),
        "int8, 2 processes of 1 thread": (int8, 256, False, in_threads(1), 2),
    }
    speeds: Dict[str, List[float]] = {name: [] for name in variants}
    for variant_nlp, batch_size, sort, setting, n_process in variants.values():
        with setting():
            tag(variant_nlp, texts[:200], batch_size, sort, n_process)
    with busy_cores(args.busy):
        for _ in range(args.rounds):
            for name, (variant_nlp, batch_size, sort, setting, n_process) in variants.items():
                with setting():
                    start = time.perf_counter()
                    n_words = tag(variant_nlp, texts, batch_size, sort, n_process)
                    speeds[name].append(n_words / (time.perf_counter() - start))
    report = {}
    for name, (variant_nlp, *_rest) in variants.items():
        scores = variant_nlp.evaluate([gold_token_example(variant_nlp, doc) for doc in gold])
        report[name] = {
            "words_per_second": round(statistics.median(speeds[name])),
            **{key: round(scores[key], 4) for key in ("pos_acc", "tag_acc", "morph_acc")},
        }
        print(f"{name:42} {report[name]}")
    if args.output:
        summary = {
            "model": str(args.model),
            "busy_cores": args.busy,
            "machine": machine_description(),
            "variants": report,
        }
        args.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
