"""What the tokenizer's tokens cost a tagger, split into the part no tagger can win back
and the part the tagger loses on tokens it still sees.

Each pipeline tags the dev docs twice with the gold sentence boundaries (its own
sentence setters off): on the treebank's tokens (five_views.py's view 2) and on the
tokenizer's tokens (view 4). The gold tokens then fall into two groups:

- aligned: the tokenizer produced exactly this token (a one-to-one alignment). Its tag
  in the two views differs only because its neighbours did. The accuracy on these
  tokens in the two views is the tagger's own loss from raw-text tokens.
- misaligned: the tokenizer merged the token with another or split it. spaCy's scorer
  gives no credit for a merged token (and credit for a split one only when a piece
  lines up one-to-one), whatever the tagger does. The gold-view accuracy on these
  tokens is what the tokenizer takes away from the headline number: the more of them
  a tagger gets right on gold tokens, the larger its gold-to-raw gap looks.

Accuracies count a gold token for a column when the treebank fills it (as the
component's scorer does); the scorer's own numbers for both views are printed beside them.

usage: python benchmarks/tokenization_floor.py DEV.spacy NAME=PIPELINE [NAME=PIPELINE ...]
           [--output FILE.json]
"""

import argparse
import json
import platform
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import spacy
import torch
from five_views import KEYS, SENTENCE_SETTERS, gold_tokens, score, tokenizer_tokens
from spacy.language import Language
from spacy.tokens import Doc, Token
from spacy.training import Corpus, Example

COLUMNS = {"pos_acc": "UPOS", "tag_acc": "XPOS", "morph_acc": "FEATS"}


def value(token: Token, key: str) -> str:
    """The token's value for a score key, "" where it has none (an empty FEATS
    analysis that is set counts, as in the component's scorer)."""
    if key == "pos_acc":
        return token.pos_
    if key == "tag_acc":
        return token.tag_
    return (str(token.morph) or "_") if token.has_morph() else ""


def one_to_one(example: Example) -> List[int]:
    """For each gold token, the index of the predicted token aligned one-to-one with it, or -1."""
    alignment = example.alignment
    matches = []
    for gold_index in range(len(example.reference)):
        predicted = alignment.y2x[gold_index]
        single = len(predicted) == 1 and len(alignment.x2y[int(predicted[0])]) == 1
        matches.append(int(predicted[0]) if single else -1)
    return matches


def misaligned(tokenize: Callable[[str], Doc], references: List[Doc]) -> int:
    """Gold tokens a tokenizer does not reproduce one-to-one."""
    return sum(match < 0 for gold in references for match in one_to_one(Example(tokenize(gold.text), gold)))


class Tally:
    """Correct and total counts per score key."""

    def __init__(self) -> None:
        self.correct = dict.fromkeys(KEYS, 0)
        self.total = dict.fromkeys(KEYS, 0)

    def add(self, key: str, right: bool) -> None:
        self.total[key] += 1
        self.correct[key] += int(right)

    def accuracy(self) -> Dict[str, float]:
        return {key: round(100 * self.correct[key] / self.total[key], 2) for key in KEYS if self.total[key]}


def tagged(nlp: Language, docs: List[Doc]) -> List[Doc]:
    """The docs through the pipeline with its sentence setters off."""
    setters = [name for name in nlp.pipe_names if name in SENTENCE_SETTERS]
    with nlp.select_pipes(disable=setters):
        return list(nlp.pipe(docs))


def floor(pipeline: Path, dev: Path) -> Dict[str, object]:
    """The scorer's numbers in both views and the accuracies of the aligned and misaligned gold tokens."""
    nlp = spacy.load(pipeline)
    references = [example.reference for example in Corpus(str(dev))(nlp)]
    on_gold = tagged(nlp, [gold_tokens(reference, nlp, True) for reference in references])
    on_tokenizer = tagged(nlp, [tokenizer_tokens(reference, nlp, True) for reference in references])
    predicts = [key for key in KEYS if any(value(token, key) for doc in on_gold[:20] for token in doc)]
    aligned_gold, aligned_tokenizer, misaligned_gold = Tally(), Tally(), Tally()
    counts = {"gold tokens": 0, "misaligned": 0}
    for reference, gold_doc, tokenizer_doc in zip(references, on_gold, on_tokenizer, strict=True):
        matches = one_to_one(Example(tokenizer_doc, reference))
        for gold_index, match in enumerate(matches):
            counts["gold tokens"] += 1
            counts["misaligned"] += int(match < 0)
            for key in predicts:
                want = value(reference[gold_index], key)
                if not want:
                    continue
                on_gold_right = value(gold_doc[gold_index], key) == want
                if match < 0:
                    misaligned_gold.add(key, on_gold_right)
                else:
                    aligned_gold.add(key, on_gold_right)
                    aligned_tokenizer.add(key, value(tokenizer_doc[match], key) == want)
    scorer = {
        "gold tokens": score(nlp, [Example(d, r) for d, r in zip(on_gold, references, strict=True)], True),
        "tokenizer tokens": score(
            nlp, [Example(d, r) for d, r in zip(on_tokenizer, references, strict=True)], True
        ),
    }
    return {
        "tokens": counts,
        "scorer": scorer,
        "aligned, gold view": aligned_gold.accuracy(),
        "aligned, tokenizer view": aligned_tokenizer.accuracy(),
        "misaligned, gold view": misaligned_gold.accuracy(),
        "gold tokens counted": {
            "aligned": aligned_gold.total,
            "misaligned": misaligned_gold.total,
        },
    }


def markdown(name: str, result: Dict) -> str:
    """One table per pipeline."""
    keys = [key for key in KEYS if key in result["aligned, gold view"]]
    counts = result["tokens"]
    rows: List[Tuple[str, Dict[str, float]]] = [
        ("spaCy's scorer, gold tokens", result["scorer"]["gold tokens"]),
        ("spaCy's scorer, tokenizer tokens", result["scorer"]["tokenizer tokens"]),
        (
            f"aligned gold tokens ({counts['gold tokens'] - counts['misaligned']:,}), gold view",
            result["aligned, gold view"],
        ),
        ("aligned gold tokens, tokenizer view", result["aligned, tokenizer view"]),
        (f"misaligned gold tokens ({counts['misaligned']:,}), gold view", result["misaligned, gold view"]),
    ]
    header = " | ".join(COLUMNS[key] for key in keys)
    lines = [f"**{name}**", "", f"| | {header} |", "| --- |" + " --- |" * len(keys)]
    for label, scores in rows:
        lines.append(f"| {label} | " + " | ".join(f"{scores[key]:.2f}" for key in keys) + " |")
    gold, raw = result["aligned, gold view"], result["aligned, tokenizer view"]
    change = ", ".join(f"{COLUMNS[key]} {raw[key] - gold[key]:+.2f}" for key in keys)
    lines.append("")
    lines.append(f"On the tokens the tokenizer keeps, raw-text tokens change accuracy by {change}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="dev docs in spaCy's binary format, gold sentences set")
    parser.add_argument("pipelines", nargs="+", help="NAME=PIPELINE_DIR")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report: Dict[str, Dict] = {}
    tables = []
    for item in args.pipelines:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: give pipelines as NAME=PIPELINE_DIR")
        report[name] = floor(Path(path), args.dev)
        tables.append(markdown(name, report[name]))
        print(tables[-1], flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        context = {"dev": str(args.dev), "torch": torch.__version__, "machine": platform.machine()}
        args.output.write_text(json.dumps({**context, "pipelines": report}, indent=2) + "\n")
        args.output.with_suffix(".md").write_text("\n".join(tables))


if __name__ == "__main__":
    main()
