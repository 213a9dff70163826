"""What the training data annotates: the targets of `targets = "auto"`, chosen at
`initialize`, and whether a treebank's tags are only copies of its UPOS."""

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Sequence, Union

from spacy.parts_of_speech import IDS as UPOS_IDS
from spacy.training import Example

from .targets import AUTO_TARGETS, TARGETS

# spaCy's POS names (its IDS also map "" to 0).
UPOS_NAMES = frozenset(name for name in UPOS_IDS if name)


def is_upos_copy(tag: str, pos: str) -> bool:
    """Whether a gold tag only repeats UPOS, as `spacy convert` writes it for a treebank
    whose XPOS column is "_": the UPOS itself, or with `--merge-subtokens` the UPOS of a
    multiword token's words joined by "_", its pos being that of the word that heads the
    others (Greek *στο*: tag ADP_DET, pos ADP; Portuguese *dele*: ADP_PRON, PRON)."""
    words = tag.split("_")
    return tag == pos or (pos in words and all(word in UPOS_NAMES for word in words))


# Tags count as a treebank's own only when more than this share of the tagged tokens
# has one that is not a copy of UPOS: one stray value (UD Hungarian-Szeged's dev split
# has an XPOS "_38" among 11,000 copies of UPOS) does not make a tag head worth training.
OWN_TAG_SHARE = 0.01


@dataclass
class FilledColumns:
    """How many gold tokens carry each kind of annotation."""

    tagged: int = 0
    own_tags: int = 0
    pos: int = 0
    morph: int = 0

    @property
    def has_own_tags(self) -> bool:
        """Whether more than OWN_TAG_SHARE of the tags are not copies of UPOS."""
        return self.own_tags > OWN_TAG_SHARE * self.tagged

    @property
    def tags_copy_pos(self) -> bool:
        """Whether there are tags and (nearly) all only repeat UPOS."""
        return self.tagged > 0 and not self.has_own_tags


def filled_columns(get_examples: Callable[[], Iterable[Example]]) -> FilledColumns:
    """Count the gold annotation of the examples' reference docs."""
    counts = FilledColumns()
    for example in get_examples():
        for token in example.reference:
            if token.tag_:
                counts.tagged += 1
                counts.own_tags += not is_upos_copy(token.tag_, token.pos_)
            counts.pos += bool(token.pos_)
            counts.morph += token.has_morph() and bool(str(token.morph))
    return counts


def filled_targets(name: str, columns: FilledColumns) -> List[str]:
    """The targets the gold docs annotate, in the order of TARGETS:

    pos   where any token has a UPOS;
    morph where any token has a non-empty analysis (a column of "_" teaches nothing);
    tag   where tags are not copies of UPOS (is_upos_copy, OWN_TAG_SHARE).
    """
    filled = {
        "tag": columns.has_own_tags,
        "pos": columns.pos > 0,
        "morph": columns.morph > 0,
    }
    chosen = [target for target in TARGETS if filled[target]]
    if not chosen:
        raise ValueError(
            f"torch_tagger '{name}' has targets = \"{AUTO_TARGETS}\", but no training example "
            "annotates a tag, a UPOS or a non-empty morphological analysis. Check that the "
            "training corpus holds annotated docs (e.g. `spacy convert` of a .conllu file)."
        )
    return chosen


def targets_of_labels(name: str, labels: Union[Dict[str, Sequence[str]], Sequence[str]]) -> List[str]:
    """The targets named by labels given to `initialize` (`spacy init labels` writes a
    dict target -> labels), in the order of TARGETS."""
    if not isinstance(labels, dict):
        raise ValueError(
            f"torch_tagger '{name}' has targets = \"{AUTO_TARGETS}\": give labels as a dict "
            "target -> list of labels (as written by `spacy init labels`), so that they name "
            "the targets."
        )
    chosen = [target for target in TARGETS if target in labels]
    if not chosen:
        raise ValueError(
            f"torch_tagger '{name}' got labels for {sorted(labels)}, none of them a target ({list(TARGETS)})."
        )
    return chosen
