"""Build corpus/train.spacy and corpus/dev.spacy from corpus/sentences.txt.

Each sentence becomes one Doc whose tokens carry the tag as both token.tag_
and token.pos_ (the tags are universal POS tags). Every fifth sentence goes to
dev. Run: python corpus/build_corpus.py
"""

import sys
from pathlib import Path
from typing import List, Tuple

import spacy
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.tokens import Doc, DocBin

CORPUS_DIR = Path(__file__).parent
TaggedSentence = List[Tuple[str, str]]


def read_sentences(path: Path) -> List[TaggedSentence]:
    """Parse word/TAG lines; '#' lines are comments. Raises on malformed tokens or tags."""
    sentences = []
    for line_no, line in enumerate(path.read_text(encoding="utf8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sentence = []
        for item in line.split():
            word, sep, tag = item.rpartition("/")
            if not sep or not word or tag not in UPOS_IDS or not tag:
                raise ValueError(
                    f"{path}:{line_no}: bad token {item!r}; expected word/TAG with a universal POS tag."
                )
            sentence.append((word, tag))
        sentences.append(sentence)
    return sentences


def to_doc(nlp: spacy.Language, sentence: TaggedSentence) -> Doc:
    words = [word for word, _ in sentence]
    tags = [tag for _, tag in sentence]
    spaces = [i + 1 < len(words) and words[i + 1] not in {".", ",", "!", "?"} for i in range(len(words))]
    return Doc(nlp.vocab, words=words, spaces=spaces, tags=tags, pos=tags)


def main(out_dir: Path = CORPUS_DIR) -> None:
    nlp = spacy.blank("en")
    sentences = read_sentences(CORPUS_DIR / "sentences.txt")
    train, dev = DocBin(), DocBin()
    for i, sentence in enumerate(sentences):
        (dev if i % 5 == 4 else train).add(to_doc(nlp, sentence))
    out_dir.mkdir(parents=True, exist_ok=True)
    train.to_disk(out_dir / "train.spacy")
    dev.to_disk(out_dir / "dev.spacy")
    print(f"{len(train)} train and {len(dev)} dev sentences written to {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS_DIR)
