"""What the treebank tokenizer (spacy_torch_tagger.TreebankTokenizer.v1) learns: gold
tokens of the dev docs that spaCy's tokenizer and the trained one do not reproduce
one-to-one, how many chunks it fixes and breaks, its training time and its speed.

The tokenizer is trained as `spacy train` trains it (`nlp.initialize` on the training
corpus); the dev docs only measure it. Pipelines given as NAME=PIPELINE then tag the dev
docs from raw text (as `spacy evaluate`) with their own tokenizer and again with this
trained treebank tokenizer in its place, without retraining the pipeline, and `nlp.pipe`
over the raw dev texts is timed both ways (one torch thread, alternating rounds). Beside spaCy's
scores, UPOS counted per gold token that one predicted token covers exactly (word-aligned).

usage: python benchmarks/treebank_tokenizer.py TRAIN.spacy DEV.spacy [NAME=PIPELINE ...]
           [--lang en] [--l2 L2] [--rounds 5] [--output FILE.json]
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import spacy
import torch
from machine import machine_description
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Corpus, Example
from tokenization_floor import misaligned, one_to_one
from train_special_cases import raw_scores

from spacy_torch_tagger.tokenization.boundary_candidates import CHUNK, token_boundaries
from spacy_torch_tagger.tokenization.treebank_tokenizer import (
    TreebankTokenizer,
    make_treebank_tokenizer,
    treebank_tokenizer,
)


def treebank_nlp(lang: str, l2: Optional[float] = None) -> Language:
    """A blank pipeline of the language with the treebank tokenizer (its L2 penalty, if given)."""
    tokenizer: Dict[str, object] = {"@tokenizers": "spacy_torch_tagger.TreebankTokenizer.v1"}
    if l2 is not None:
        tokenizer["l2"] = l2
    return spacy.blank(lang, config={"nlp": {"tokenizer": tokenizer}})


def chunk_changes(
    base: Callable[[str], Doc], learnt: Callable[[str], Doc], references: List[Doc]
) -> Dict[str, int]:
    """Whitespace-delimited chunks whose tokens the learnt tokenizer made right (fixed) or wrong (broken)."""
    counts = {"chunks": 0, "base wrong": 0, "fixed": 0, "broken": 0, "still wrong": 0}
    for gold in references:
        text = gold.text
        cuts = {
            name: token_boundaries(tokenize(text)) for name, tokenize in (("base", base), ("learnt", learnt))
        }
        cuts["gold"] = token_boundaries(gold)
        for match in CHUNK.finditer(text):
            start, end = match.span()
            inside = {name: {cut for cut in found if start < cut < end} for name, found in cuts.items()}
            base_right, learnt_right = inside["base"] == inside["gold"], inside["learnt"] == inside["gold"]
            counts["chunks"] += 1
            counts["base wrong"] += int(not base_right)
            counts["fixed"] += int(learnt_right and not base_right)
            counts["broken"] += int(base_right and not learnt_right)
            counts["still wrong"] += int(not base_right and not learnt_right)
    return counts


def words_per_second(
    tokenize: Callable[[str], Doc], texts: List[str], rounds: int, keep_decisions: bool = False
) -> float:
    """Median over rounds of tokens per second of tokenizing the texts. The treebank tokenizer
    starts each round with no decisions kept (as on texts it has not seen), unless
    `keep_decisions`: then every chunk was decided in an earlier pass."""
    speeds = []
    for _ in range(rounds):
        if isinstance(tokenize, TreebankTokenizer) and not keep_decisions:
            tokenize.decided.clear()
        start = time.perf_counter()
        tokens = sum(len(tokenize(text)) for text in texts)
        speeds.append(tokens / (time.perf_counter() - start))
    return round(statistics.median(speeds))


def pipeline_speeds(pipelines: List[Language], texts: List[str], rounds: int) -> List[float]:
    """Median words/s of `nlp.pipe` over the texts for each pipeline, the pipelines alternating
    within every round (a fresh treebank tokenizer's decisions cleared first)."""
    speeds: List[List[float]] = [[] for _ in pipelines]
    for pipeline in pipelines:
        list(pipeline.pipe(texts[:20]))  # warm-up
    for _ in range(rounds):
        for index, pipeline in enumerate(pipelines):
            if isinstance(pipeline.tokenizer, TreebankTokenizer):
                pipeline.tokenizer.decided.clear()
            start = time.perf_counter()
            words = sum(len(doc) for doc in pipeline.pipe(texts))
            speeds[index].append(words / (time.perf_counter() - start))
    return [round(statistics.median(found)) for found in speeds]


def word_aligned_upos(nlp: Language, references: List[Doc]) -> float:
    """UPOS over the gold tokens from raw text, a gold token right only when one predicted
    token covers exactly it and has its UPOS (as word-level scores such as CoNLL 2018's count;
    spaCy's scorer also credits a gold token split into pieces when one piece has its tag)."""
    right = total = 0
    for reference, doc in zip(references, nlp.pipe(reference.text for reference in references), strict=True):
        for gold_index, match in enumerate(one_to_one(Example(doc, reference))):
            total += 1
            right += int(match >= 0 and doc[match].pos_ == reference[gold_index].pos_)
    return round(100 * right / total, 2)


def with_tokenizer_of(nlp: Language, trained: TreebankTokenizer) -> Language:
    """The pipeline with a copy of the trained treebank tokenizer (on its vocab) as its tokenizer."""
    tokenizer = make_treebank_tokenizer()(nlp)
    tokenizer.from_bytes(trained.to_bytes(exclude=["vocab"]), exclude=["vocab"])  # keep the pipeline's vocab
    nlp.tokenizer = tokenizer
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("pipelines", nargs="*", help="NAME=PIPELINE_DIR")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--l2", type=float, help="the tokenizer's L2 penalty (default: the tokenizer's own)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    nlp = treebank_nlp(args.lang, args.l2)
    train = list(Corpus(str(args.train))(nlp))
    dev = [example.reference for example in Corpus(str(args.dev))(nlp)]
    start = time.perf_counter()
    nlp.initialize(lambda: train)
    train_seconds = time.perf_counter() - start
    learnt = treebank_tokenizer(nlp)
    base = learnt.base
    references = {"train": [example.reference for example in train], "dev": dev}
    result = {
        "train": str(args.train),
        "dev": str(args.dev),
        "lang": args.lang,
        "l2": learnt.l2,
        "gold_tokens": {name: sum(len(doc) for doc in docs) for name, docs in references.items()},
        "misaligned_gold_tokens": {
            name: {
                "spaCy's tokenizer": misaligned(base, docs),
                "treebank tokenizer": misaligned(learnt, docs),
            }
            for name, docs in references.items()
        },
        "dev_chunks": chunk_changes(base, learnt, dev),
        "splittable_tokens": len(learnt.classifier.splittable),
        "train_seconds": round(train_seconds, 1),
        "tokens_per_second_dev": {
            "spaCy's tokenizer": words_per_second(base, [doc.text for doc in dev], args.rounds),
            "treebank tokenizer": words_per_second(learnt, [doc.text for doc in dev], args.rounds),
            "treebank tokenizer, decisions kept from a pass before": words_per_second(
                learnt, [doc.text for doc in dev], args.rounds, keep_decisions=True
            ),
        },
        "size_bytes": len(learnt.classifier.to_bytes()),
        "spacy": spacy.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": machine_description(),
    }
    pipelines: Dict[str, Dict[str, object]] = {}
    for item in args.pipelines:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: give pipelines as NAME=PIPELINE_DIR")
        own, swapped = spacy.load(path), with_tokenizer_of(spacy.load(path), learnt)
        texts = [doc.text for doc in dev]
        pipelines[name] = {
            "own tokenizer": raw_scores(own, args.dev),
            "treebank tokenizer": raw_scores(swapped, args.dev),
            "word-aligned UPOS, own and treebank tokenizer": [
                word_aligned_upos(own, dev),
                word_aligned_upos(swapped, dev),
            ],
            "words per second, own and treebank tokenizer": pipeline_speeds(
                [own, swapped], texts, args.rounds
            ),
        }
        print(name, pipelines[name], flush=True)
    result["raw_text_dev"] = pipelines
    print(
        json.dumps(
            {
                key: result[key]
                for key in ("misaligned_gold_tokens", "dev_chunks", "train_seconds", "tokens_per_second_dev")
            },
            indent=1,
        )
    )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
