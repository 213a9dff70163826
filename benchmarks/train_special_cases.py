"""Tokenizer special cases learnt from the training treebank: how much of the alignment
floor (tokenization_floor.py) they remove, and what they do to raw-text scores.

A special case is a whitespace-delimited string of the training text whose gold tokens
(a) cover it exactly, (b) differ from the tokenizer's tokens, and (c) are the same in
each of its at least `--min-count` occurrences, never split otherwise (e.g. `e-mail`
kept whole, `and/or` split in three). Only the training docs choose the rules. Each
pipeline then tags the dev docs from raw text (as `spacy evaluate`) with its own
tokenizer, and again with the special cases added to it.

usage: python benchmarks/train_special_cases.py TRAIN.spacy DEV.spacy [NAME=PIPELINE ...]
           [--min-count N] [--lang en] [--output FILE.json]
"""

import argparse
import collections
import json
import platform
import re
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import torch
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, DocBin
from spacy.training import Corpus
from tokenization_floor import misaligned

SCORES = {"pos_acc": "UPOS", "tag_acc": "XPOS", "morph_acc": "FEATS"}
Rules = Dict[str, Tuple[str, ...]]


def gold_splits(docs: List[Doc]) -> Dict[str, collections.Counter]:
    """For each whitespace-delimited string whose gold tokens cover it exactly, how often
    each sequence of gold tokens occurs for it."""
    splits: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for doc in docs:
        by_start = {token.idx: token.i for token in doc}
        for match in re.finditer(r"\S+", doc.text):
            first = by_start.get(match.start())
            if first is None:
                continue
            pieces: List[str] = []
            end = match.start()
            for token in doc[first:]:
                if end >= match.end():
                    break
                if token.idx != end:  # gold tokens with whitespace between them in the string
                    pieces = []
                    break
                pieces.append(token.text)
                end = token.idx + len(token.text)
            if pieces and end == match.end():
                splits[match.group()][tuple(pieces)] += 1
    return splits


def learn_rules(nlp: Language, train: List[Doc], min_count: int) -> Rules:
    """The special cases (see the module docstring), sorted by string."""
    rules: Rules = {}
    for string, counts in gold_splits(train).items():
        if len(counts) != 1:
            continue
        ((pieces, count),) = counts.items()
        if count >= min_count and tuple(token.text for token in nlp.make_doc(string)) != pieces:
            rules[string] = pieces
    return dict(sorted(rules.items()))


def add_rules(nlp: Language, rules: Rules) -> None:
    tokenizer = nlp.tokenizer
    assert isinstance(tokenizer, Tokenizer), "special cases need spaCy's rule-based tokenizer"
    for string, pieces in rules.items():
        tokenizer.add_special_case(string, [{ORTH: piece} for piece in pieces])


def raw_scores(nlp: Language, dev: Path) -> Dict[str, float]:
    """UPOS / XPOS / FEATS from raw text, as `spacy evaluate` without --gold-preproc."""
    scores = nlp.evaluate(list(Corpus(str(dev))(nlp)))
    return {SCORES[key]: round(100 * scores[key], 2) for key in SCORES if scores.get(key) is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("pipelines", nargs="*", help="NAME=PIPELINE_DIR")
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    blank = spacy.blank(args.lang)
    train = list(DocBin().from_disk(args.train).get_docs(blank.vocab))
    dev = list(DocBin().from_disk(args.dev).get_docs(blank.vocab))
    rules = learn_rules(blank, train, args.min_count)
    tokens = {"train": sum(len(doc) for doc in train), "dev": sum(len(doc) for doc in dev)}
    before = {"train": misaligned(blank.make_doc, train), "dev": misaligned(blank.make_doc, dev)}
    add_rules(blank, rules)
    after = {"train": misaligned(blank.make_doc, train), "dev": misaligned(blank.make_doc, dev)}
    print(f"{len(rules)} special cases; misaligned gold tokens {before} -> {after} of {tokens}", flush=True)
    pipelines: Dict[str, Dict[str, Dict[str, float]]] = {}
    for item in args.pipelines:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: give pipelines as NAME=PIPELINE_DIR")
        nlp = spacy.load(path)
        own = raw_scores(nlp, args.dev)
        add_rules(nlp, rules)
        pipelines[name] = {"own tokenizer": own, "with the special cases": raw_scores(nlp, args.dev)}
        print(name, pipelines[name], flush=True)
    if args.output:
        report = {
            "train": str(args.train),
            "dev": str(args.dev),
            "min_count": args.min_count,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "special_cases": len(rules),
            "gold_tokens": tokens,
            "misaligned_gold_tokens": {"own tokenizer": before, "with the special cases": after},
            "raw_text_dev": pipelines,
            "rules": {string: list(pieces) for string, pieces in rules.items()},
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
