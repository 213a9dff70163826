"""What a UD treebank fills, and how spaCy's tokenizer meets its multiword tokens.

For a CoNLL-U file and a spaCy language code, reports:
- which torch_tagger targets the treebank annotates, as `targets = "auto"` chooses them:
  `pos` (UPOS) and `morph` (FEATS) when any word has a value; `tag` (XPOS) only when more
  than 1 % of the words have an XPOS that is neither "_" nor their UPOS, because `spacy
  convert` copies UPOS into token.tag_ where XPOS is "_";
- its multiword tokens (a surface token such as Greek "στο" over the words "σ" + "το"):
  how many, and whether spaCy's tokenizer for the language splits each one at the
  boundaries of its words or keeps it whole. Kept whole, the words can only be scored
  (and trained) as one token: convert with `--merge-subtokens`, as spaCy's UD pipelines
  do. Split, convert without it, so the gold tokens are the ones the tokenizer makes.

Prints the report as JSON; with --output, writes it there too.
python benchmarks/treebank_columns.py TRAIN.conllu --lang el
"""

import argparse
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import spacy

from spacy_torch_tagger.pipeline.filled_targets import OWN_TAG_SHARE


@dataclass
class MultiwordToken:
    surface: str
    words: List[str]


@dataclass
class TreebankColumns:
    path: str
    lang: str
    words: int = 0
    upos_filled: int = 0
    feats_filled: int = 0
    xpos_filled: int = 0
    xpos_not_upos: int = 0
    multiword_tokens: int = 0
    multiword_split_by_tokenizer: int = 0
    multiword_kept_whole: int = 0
    multiword_other: int = 0
    commonest_multiword: List[Tuple[str, int]] = field(default_factory=list)

    @property
    def targets(self) -> List[str]:
        """What `targets = "auto"` predicts: tag only where more than OWN_TAG_SHARE of
        the words has an XPOS of its own (after conversion every word has a tag)."""
        own_tags = self.xpos_not_upos > OWN_TAG_SHARE * self.words
        filled = [("tag", own_tags), ("pos", self.upos_filled), ("morph", self.feats_filled)]
        return [target for target, count in filled if count]

    @property
    def merge_subtokens(self) -> bool:
        return self.multiword_kept_whole > self.multiword_split_by_tokenizer


def conllu_rows(path: Path) -> Iterator[List[str]]:
    """The 10 columns of every token line (words, multiword ranges, empty nodes)."""
    with path.open(encoding="utf8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                columns = line.split("\t")
                if len(columns) != 10:
                    raise SystemExit(f"{path}: not CoNLL-U, a line has {len(columns)} columns: {line!r}")
                yield columns


def multiword_tokens(rows: List[List[str]]) -> Iterator[MultiwordToken]:
    """Each multiword token with the forms of the words it spans."""
    forms = {}
    for index, columns in enumerate(rows):
        if "-" in columns[0]:
            first, last = (int(part) for part in columns[0].split("-"))
            words = [row[1] for row in rows[index + 1 : index + 1 + last - first + 1]]
            forms[index] = MultiwordToken(columns[1], words)
    yield from forms.values()


def inspect(path: Path, lang: str) -> TreebankColumns:
    report = TreebankColumns(path=str(path), lang=lang)
    rows = list(conllu_rows(path))
    for _, _, _, upos, xpos, feats, *_ in (row for row in rows if row[0].isdigit()):
        report.words += 1
        report.upos_filled += upos != "_"
        report.feats_filled += feats != "_"
        report.xpos_filled += xpos != "_"
        report.xpos_not_upos += xpos not in ("_", upos)
    tokenizer = spacy.blank(lang).tokenizer
    commonest: Counter = Counter()
    for token in multiword_tokens(rows):
        report.multiword_tokens += 1
        commonest[token.surface.lower()] += 1
        pieces = [piece.text for piece in tokenizer(token.surface)]
        if pieces == token.words:
            report.multiword_split_by_tokenizer += 1
        elif pieces == [token.surface]:
            report.multiword_kept_whole += 1
        else:
            report.multiword_other += 1
    report.commonest_multiword = commonest.most_common(10)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conllu", type=Path, help="a CoNLL-U file (the training split)")
    parser.add_argument("--lang", required=True, help="spaCy language code, e.g. hu, el, en, xx")
    parser.add_argument("--output", type=Path, help="also write the report here as JSON")
    args = parser.parse_args()
    report = inspect(args.conllu, args.lang)
    result: Dict[str, object] = {
        **asdict(report),
        "targets": report.targets,
        "merge_subtokens": report.merge_subtokens,
    }
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
