"""Does a sentence get the same annotations alone and inside any batch?

Tags every sentence of the given CoNLL-U files (their `# text =` lines, raw text
through the pipeline's tokenizer) alone with `nlp(text)`, then all of them again
with `nlp.pipe` in shuffled order at several batch sizes (and with two processes),
and counts the tokens whose tag, pos or morph differ from the sentence tagged
alone, and the largest difference of a probability (`token._.torch_tagger_probs`,
switched on for the run). Goal: 0 differing tokens; probabilities equal.

Uses only spaCy's public API, so it also measures a pipeline with an older version
of the package (put that version first on PYTHONPATH).

usage: python benchmarks/batch_invariance.py PIPELINE CONLLU [CONLLU ...]
           [--limit N] [--batch-sizes 7 64 1000] [--n-process 2] [--output FILE.json]
"""

import argparse
import json
import platform
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc

import spacy_torch_tagger

PROBS = "torch_tagger_probs"


def sentence_texts(paths: Sequence[Path], limit: Optional[int]) -> List[str]:
    """The `# text =` lines of the CoNLL-U files, in order."""
    texts = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# text = "):
                texts.append(line[len("# text = ") :])
    return texts[:limit] if limit else texts


def annotations(doc: Doc) -> List[tuple]:
    return [(token.text, token.tag_, token.pos_, str(token.morph)) for token in doc]


def probabilities(doc: Doc) -> List[Dict[str, float]]:
    return [token._.get(PROBS) or {} for token in doc]


def compare(alone: Sequence[Doc], batched: Sequence[Doc]) -> Dict[str, Any]:
    """Tokens and docs whose annotations differ, the largest probability difference,
    and a few examples."""
    tokens = differing_tokens = differing_docs = 0
    largest = 0.0
    examples: List[Dict[str, Any]] = []
    for single, other in zip(alone, batched, strict=True):
        mine, theirs = annotations(single), annotations(other)
        if len(mine) != len(theirs):
            raise RuntimeError(f"the tokenization differs for {single.text!r}")
        tokens += len(mine)
        differing = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
        differing_tokens += len(differing)
        differing_docs += bool(differing)
        if differing and len(examples) < 5:
            i = differing[0]
            examples.append({"text": single.text, "alone": mine[i], "batched": theirs[i]})
        for p, q in zip(probabilities(single), probabilities(other), strict=True):
            for target in p.keys() | q.keys():
                largest = max(largest, abs(p.get(target, -1.0) - q.get(target, -1.0)))
    return {
        "tokens": tokens,
        "differing_tokens": differing_tokens,
        "differing_docs": differing_docs,
        "largest_probability_difference": largest,
        "examples": examples,
    }


def batched_docs(
    nlp: Language, texts: Sequence[str], batch_size: int, n_process: int, seed: int
) -> List[Doc]:
    """The texts tagged by nlp.pipe in a shuffled order, returned in the original order."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    docs = nlp.pipe([texts[i] for i in order], batch_size=batch_size, n_process=n_process)
    by_position: List[Optional[Doc]] = [None] * len(texts)
    for position, doc in zip(order, docs, strict=True):
        by_position[position] = doc
    return [doc for doc in by_position if doc is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument("conllu", type=Path, nargs="+", help="CoNLL-U files with # text = lines")
    parser.add_argument("--limit", type=int, help="use the first N sentences only")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[7, 64, 1000])
    parser.add_argument("--n-process", type=int, default=2, help="also run nlp.pipe on N processes (0: skip)")
    parser.add_argument("--label", default="", help="a name for the code measured, kept in the report")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()

    config = {"components": {"torch_tagger": {"probabilities": True}}}
    nlp = spacy.load(args.pipeline, config=config)
    texts = sentence_texts(args.conllu, args.limit)
    print(f"{len(texts)} sentences; tagging each alone", flush=True)
    start = time.perf_counter()
    alone = [nlp(text) for text in texts]
    runs: List[Dict[str, Any]] = [{"batching": "alone", "seconds": round(time.perf_counter() - start, 1)}]
    settings = [(size, 1) for size in args.batch_sizes]
    if args.n_process > 1:
        settings.append((64, args.n_process))
    for seed, (batch_size, n_process) in enumerate(settings, start=1):
        start = time.perf_counter()
        docs = batched_docs(nlp, texts, batch_size, n_process, seed)
        result = compare(alone, docs)
        label = f"shuffled, batch_size={batch_size}" + (f", n_process={n_process}" if n_process > 1 else "")
        runs.append({"batching": label, "seconds": round(time.perf_counter() - start, 1), **result})
        print(
            f"{label}: {result['differing_tokens']} of {result['tokens']} tokens differ "
            f"({result['differing_docs']} docs); largest probability difference "
            f"{result['largest_probability_difference']:.3g}",
            flush=True,
        )
    report = {
        "pipeline": str(args.pipeline),
        "pipeline_config": {
            key: nlp.config["components"]["torch_tagger"]["model"].get(key)
            for key in ("int8_inference", "precision", "mixed_precision")
        },
        "label": args.label,
        "package": str(Path(spacy_torch_tagger.__file__).parent),
        "sentences": len(texts),
        "sources": [str(path) for path in args.conllu],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "runs": runs,
    }
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
