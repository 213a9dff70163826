"""Build corpus/train.spacy and corpus/dev.spacy from corpus/sentences.txt.

sentences.txt gives each token a universal POS tag, which becomes token.pos_.
token.tag_ gets a Penn-Treebank-style tag derived from the word and its
universal tag by the rules of `fine_tag` (NN/NNS/NNP, VBD/VBZ/VBP/VBG/VB,
DT, JJ, RB, PRP/PRP$, IN/TO, CC, CD, punctuation), so tag and pos differ on
every token and neither determines the other (VBZ is a VERB or an AUX, a
NOUN is NN or NNS). Every fifth sentence goes to dev. Run: python corpus/build_corpus.py
"""

import sys
from pathlib import Path
from typing import List, Optional, Tuple

import spacy
from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.tokens import Doc, DocBin

CORPUS_DIR = Path(__file__).parent
TaggedSentence = List[Tuple[str, str]]

# Plural nouns without a plural -s.
IRREGULAR_PLURALS = {"children", "men", "women", "people", "police", "deer", "mice", "feet", "teeth", "geese"}
# Nouns that end in -s in the singular (besides -ss, -us and -is, which the rule knows).
SINGULAR_S = {"news", "lens", "series", "species"}
# Past tenses without -ed. "read" is here: the corpus uses it in the past only.
IRREGULAR_PAST = {
    "ate", "blew", "bought", "broke", "brought", "built", "caught", "drove", "fell", "flew",
    "forgot", "found", "froze", "gave", "had", "heard", "hid", "kept", "lost", "made", "ran",
    "rang", "read", "sang", "saw", "sent", "shook", "sold", "went", "won", "wrote",
}  # fmt: skip
AUXILIARIES = {
    "is": "VBZ", "has": "VBZ", "does": "VBZ",
    "are": "VBP", "am": "VBP", "have": "VBP", "do": "VBP",
    "was": "VBD", "were": "VBD", "had": "VBD", "did": "VBD",
    "be": "VB", "been": "VBN", "being": "VBG",
}  # fmt: skip
MODALS = {"can", "could", "may", "might", "must", "shall", "should", "will", "would"}
POSSESSIVES = {"my", "your", "his", "its", "our", "their"}
PUNCTUATION = {".": ".", "!": ".", "?": ".", ",": ",", ":": ":", ";": ":", "(": "-LRB-", ")": "-RRB-"}
# Universal tags that map to one fine tag whatever the word.
ONE_TAG = {"ADJ": "JJ", "ADV": "RB", "CCONJ": "CC", "SCONJ": "IN", "NUM": "CD", "DET": "DT", "INTJ": "UH"}


def fine_tag(word: str, upos: str, previous: Optional[str] = None, next_upos: Optional[str] = None) -> str:
    """The Penn-Treebank-style tag of `word` tagged `upos`; `previous` is the word
    before it and `next_upos` the universal tag after it (None at the sentence's
    edges). Raises ValueError where no rule applies."""
    lower = word.lower()
    if upos in ONE_TAG:
        return ONE_TAG[upos]
    if upos == "NOUN":
        if lower in IRREGULAR_PLURALS:
            return "NNS"
        plural = lower.endswith("s") and not lower.endswith(("ss", "us", "is")) and lower not in SINGULAR_S
        return "NNS" if plural else "NN"
    if upos == "PROPN":
        return "NNP"
    if upos == "VERB":
        if previous is not None and (previous.lower() == "to" or previous.lower() in MODALS):
            return "VB"
        if lower.endswith("ing"):
            return "VBG"
        if lower in IRREGULAR_PAST or lower.endswith("ed"):
            return "VBD"
        return "VBZ" if lower.endswith("s") else "VBP"
    if upos == "AUX":
        if lower in MODALS:
            return "MD"
        if lower in AUXILIARIES:
            return AUXILIARIES[lower]
    if upos == "PRON":
        if lower in POSSESSIVES or (lower == "her" and next_upos in {"NOUN", "ADJ", "NUM", "PROPN"}):
            return "PRP$"
        # Everybody, someone, nothing: Penn tags these as nouns.
        return "NN" if lower.endswith(("body", "one", "thing")) else "PRP"
    if upos == "ADP":
        return "TO" if lower == "to" else "IN"
    if upos == "PART":
        if lower == "to":
            return "TO"
        if lower in {"'s", "'"}:
            return "POS"
        return "RB" if lower in {"not", "n't"} else "RP"
    if upos == "PUNCT" and word in PUNCTUATION:
        return PUNCTUATION[word]
    raise ValueError(
        f"no fine-grained tag rule for {word!r} tagged {upos}: add one to corpus/build_corpus.py"
    )


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


def fine_tags(sentence: TaggedSentence) -> List[str]:
    """The fine tag of every token of a sentence; each differs from its universal tag."""
    tags = []
    for i, (word, upos) in enumerate(sentence):
        previous = sentence[i - 1][0] if i else None
        next_upos = sentence[i + 1][1] if i + 1 < len(sentence) else None
        tag = fine_tag(word, upos, previous, next_upos)
        if tag == upos:
            raise ValueError(f"the fine tag of {word!r} equals its universal tag {upos}")
        tags.append(tag)
    return tags


def to_doc(nlp: spacy.Language, sentence: TaggedSentence) -> Doc:
    words = [word for word, _ in sentence]
    pos = [upos for _, upos in sentence]
    spaces = [i + 1 < len(words) and words[i + 1] not in {".", ",", "!", "?"} for i in range(len(words))]
    return Doc(nlp.vocab, words=words, spaces=spaces, tags=fine_tags(sentence), pos=pos)


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
