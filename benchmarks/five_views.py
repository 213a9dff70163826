"""Where accuracy goes between gold tokens and raw text: five views of the same dev data.

Each pipeline tags the dev docs (10 gold sentences per doc, as `spacy convert -n 10`
writes them) five times, each view giving it one thing less from the gold data:

1. gold tokens, one sentence per doc, the pipeline's sentence setters on (as
   `spacy evaluate --gold-preproc`, the usual headline number);
2. gold tokens and gold sentence boundaries, ten sentences per doc;
3. gold tokens, sentence boundaries from the pipeline;
4. the tokenizer's tokens, with the gold sentence boundaries;
5. raw text: the tokenizer's tokens and the pipeline's sentences (as `spacy evaluate`).

Views 2 and 4 switch off the pipeline's own sentence-setting components. spaCy's
scorer scores every view against the gold docs through its alignment, so tokens
that the tokenizer splits differently from the treebank count as misses. The step
from one view to the next is what the missing piece of gold data costs.

usage: python benchmarks/five_views.py DEV.spacy NAME=PIPELINE [NAME=PIPELINE ...]
           [--output FILE.json]
"""

import argparse
import json
import platform
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Corpus, Example

KEYS = ("pos_acc", "tag_acc", "morph_acc")
SENTENCE_SETTERS = ("sentencizer", "senter", "parser")
VIEWS = (
    "gold tokens, a sentence per doc",
    "gold tokens and sentences, 10 per doc",
    "gold tokens, the pipeline's sentences",
    "tokenizer tokens, gold sentences",
    "raw text",
)


def gold_tokens(reference: Doc, nlp: Language, with_sentences: bool) -> Doc:
    """A doc of the reference's words and spaces, with or without its sentence starts."""
    sent_starts: Optional[List[Union[bool, int, None]]] = None
    if with_sentences:
        sent_starts = [bool(token.is_sent_start) for token in reference]
    return Doc(
        nlp.vocab,
        words=[t.text for t in reference],
        spaces=[bool(t.whitespace_) for t in reference],
        sent_starts=sent_starts,
    )


def tokenizer_tokens(reference: Doc, nlp: Language, with_sentences: bool) -> Doc:
    """The tokenizer's doc of the reference text; with sentences, a token starts one where
    a gold sentence starts inside it (or at its first character)."""
    doc = nlp.make_doc(reference.text)
    if with_sentences:
        starts = sorted(sentence.start_char for sentence in reference.sents)
        next_start = 0
        for token in doc:
            end = token.idx + len(token.text)
            starts_here = False
            while next_start < len(starts) and starts[next_start] < end:
                starts_here = True
                next_start += 1
            token.is_sent_start = starts_here or token.i == 0
    return doc


def score(nlp: Language, examples: List[Example], keep_gold_sentences: bool) -> Dict[str, float]:
    """UPOS/XPOS/FEATS in percent, the pipeline's sentence setters off where gold sentences are given."""
    setters = [name for name in nlp.pipe_names if name in SENTENCE_SETTERS] if keep_gold_sentences else []
    with nlp.select_pipes(disable=setters):
        measured = nlp.evaluate(examples)
    return {key: round(100 * measured[key], 2) for key in KEYS if measured.get(key) is not None}


def five_views(pipeline: Path, dev: Path) -> Dict[str, Dict[str, float]]:
    """The scores of one pipeline in each view."""
    nlp = spacy.load(pipeline)
    sentences = list(Corpus(str(dev), gold_preproc=True)(nlp))
    references = [example.reference for example in Corpus(str(dev))(nlp)]
    make: Dict[str, Callable[[Doc], Doc]] = {
        VIEWS[1]: lambda ref: gold_tokens(ref, nlp, True),
        VIEWS[2]: lambda ref: gold_tokens(ref, nlp, False),
        VIEWS[3]: lambda ref: tokenizer_tokens(ref, nlp, True),
        VIEWS[4]: lambda ref: tokenizer_tokens(ref, nlp, False),
    }
    result = {VIEWS[0]: score(nlp, sentences, keep_gold_sentences=False)}
    for view, build in make.items():
        examples = [Example(build(reference), reference) for reference in references]
        result[view] = score(nlp, examples, keep_gold_sentences=view in (VIEWS[1], VIEWS[3]))
    return result


def markdown(name: str, views: Dict[str, Dict[str, float]]) -> str:
    """One table: each view's scores and the change from the view above."""
    lines = [f"**{name}**", "", "| view | UPOS | XPOS | FEATS |", "| --- | --- | --- | --- |"]
    previous = None
    for view, scores in views.items():
        cells = []
        for key in KEYS:
            if key not in scores:
                cells.append("–")
            elif previous is None or key not in previous:
                cells.append(f"{scores[key]:.2f}")
            else:
                cells.append(f"{scores[key]:.2f} ({scores[key] - previous[key]:+.2f})")
        lines.append(f"| {view} | " + " | ".join(cells) + " |")
        previous = scores
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="dev docs in spaCy's binary format, gold sentences set")
    parser.add_argument("pipelines", nargs="+", help="NAME=PIPELINE_DIR")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report: Dict[str, Dict[str, Dict[str, float]]] = {}
    tables = []
    for item in args.pipelines:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"{item!r}: give pipelines as NAME=PIPELINE_DIR")
        report[name] = five_views(Path(path), args.dev)
        tables.append(markdown(name, report[name]))
        print(tables[-1], flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        context = {"dev": str(args.dev), "torch": torch.__version__, "machine": platform.machine()}
        args.output.write_text(json.dumps({**context, "pipelines": report}, indent=2) + "\n")
        args.output.with_suffix(".md").write_text("\n".join(tables))


if __name__ == "__main__":
    main()
