"""spaCy's tokenizer with the token boundaries inside each chunk decided by a classifier
trained on the treebank (`spacy_torch_tagger.TreebankTokenizer.v1`)."""

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

import srsly
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .boundary_candidates import (
    Candidate,
    candidates,
    chunk_candidates,
    chunks_to_decide,
    feature_ids,
    token_boundaries,
)
from .boundary_classifier import BoundaryClassifier, BoundaryDataError
from .rebuild import rebuild

BASE_TOKENIZER = "spacy.Tokenizer.v1"
BASE_FILE = "base"
BOUNDARIES_FILE = "boundaries.safetensors"
CACHED_CHUNKS = 20_000
SAVED_WITH_ANOTHER = (
    "Was the pipeline saved with another tokenizer? Keep [nlp.tokenizer] as it was saved, or re-train."
)
# spaCy's tokenizer settings, read and set on the base tokenizer through this one.
BASE_SETTINGS = (
    "rules",
    "prefix_search",
    "suffix_search",
    "infix_finditer",
    "token_match",
    "url_match",
    "faster_heuristics",
)


class TreebankTokenizer:
    """Tokenizes with spaCy's rule-based `base` tokenizer, then keeps, removes or adds the
    boundaries inside each whitespace-delimited chunk as the trained classifier says.

    `initialize` (called by `nlp.initialize`, so by `spacy train`) trains the classifier on
    the reference docs of the training corpus; untrained, the tokens are the base's. Special
    cases and spaCy's tokenizer settings (`infix_finditer`, `token_match`, ...) go to the base:
    `nlp.tokenizer.add_special_case(...)`; a learnt boundary can still change their tokens.
    """

    def __init__(self, base: Tokenizer, hash_bits: int, base_prior: float, l2: float) -> None:
        self.base = base
        self.vocab = base.vocab
        self.classifier = BoundaryClassifier(hash_bits, base_prior)
        self.l2 = l2
        # (chunk text, base token offsets, next chunk's first character shape) -> changed offsets
        self.decided: Dict[Tuple[str, Tuple[int, ...], str], Tuple[int, ...]] = {}

    def __call__(self, text: str) -> Doc:
        doc = self.base(text)
        if not self.classifier.trained or not text:
            return doc
        changed = self.changed_boundaries(text, doc)
        if not changed:
            return doc
        return rebuild(doc, token_boundaries(doc) ^ changed)

    def __getattr__(self, name: str) -> Any:
        """spaCy's tokenizer settings (BASE_SETTINGS) are the base tokenizer's."""
        base = self.__dict__.get("base")
        if name in BASE_SETTINGS and base is not None:
            return getattr(base, name)
        raise AttributeError(f"'TreebankTokenizer' object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in BASE_SETTINGS:
            setattr(self.base, name, value)  # decisions kept per chunk are keyed by its base tokens
            return
        super().__setattr__(name, value)
        if name == "classifier" and "decided" in self.__dict__:
            self.decided.clear()  # they were another classifier's

    def explain(self, text: str) -> List[Tuple[str, str]]:
        """spaCy's explanation of the base tokenizer's tokens (before the learnt boundaries)."""
        return self.base.explain(text)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenize a stream of texts (`batch_size` is accepted as spaCy's tokenizer does)."""
        for text in texts:
            yield self(text)

    def add_special_case(self, string: str, substrings: List[Dict]) -> None:
        """Add a special case to the base tokenizer (see spaCy's Tokenizer.add_special_case)."""
        self.base.add_special_case(string, substrings)

    def changed_boundaries(self, text: str, doc: Doc) -> Set[int]:
        """Positions where the classifier disagrees with the base tokenizer. A chunk's decisions
        depend only on its characters, its base tokens and the next chunk's first character,
        so they are kept per chunk (up to CACHED_CHUNKS of them) and reused."""
        splittable = self.classifier.splittable
        changed: Set[int] = set()
        for chunk in chunks_to_decide(text, doc, splittable):
            key = (text[chunk.start : chunk.end], chunk.token_offsets, chunk.next_shape)
            offsets = self.decided.get(key)
            if offsets is None:
                found = chunk_candidates(text, doc, chunk, splittable)
                offsets = tuple(
                    candidate.position - chunk.start for candidate in self.disagreements(text, found)
                )
                if len(self.decided) >= CACHED_CHUNKS:
                    self.decided.clear()
                self.decided[key] = offsets
            changed.update(chunk.start + offset for offset in offsets)
        return changed

    def disagreements(self, text: str, found: List[Candidate]) -> List[Candidate]:
        """The candidates (of one chunk) where the classifier disagrees with the base; the
        members of a group share the mean of their logits."""
        logits = {
            candidate.position: self.classifier.score(
                feature_ids(text, candidate, self.classifier.bits), candidate.base_split
            )
            for candidate in found
        }
        groups: Dict[int, List[Candidate]] = defaultdict(list)
        for candidate in found:
            if candidate.group is not None:
                groups[candidate.group].append(candidate)
        for members in groups.values():
            mean = sum(logits[member.position] for member in members) / len(members)
            for member in members:
                logits[member.position] = mean
        return [candidate for candidate in found if (logits[candidate.position] > 0) != candidate.base_split]

    def __getstate__(self) -> Dict[str, Any]:
        """Pickled (for nlp.pipe with n_process > 1) without the cached decisions."""
        state = self.__dict__.copy()
        state["decided"] = {}
        return state

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None
    ) -> None:
        """Train the classifier on the examples' reference docs: their texts and gold token
        boundaries, each text once. A reference that is one sentence of another (as the
        with_gold_tokens augmenter yields them) is left out, so that no pattern counts twice
        against the L2 penalty."""
        references: Dict[str, Set[int]] = {}
        sentences_of_longer_docs: Set[str] = set()
        for example in get_examples():
            reference = example.reference
            text = reference.text
            if text and text not in references:
                references[text] = token_boundaries(reference)
                if reference.has_annotation("SENT_START") and len(list(reference.sents)) > 1:
                    sentences_of_longer_docs.update(sentence.text.strip() for sentence in reference.sents)
        references = {
            text: boundaries
            for text, boundaries in references.items()
            if text.strip() not in sentences_of_longer_docs
        }
        splittable = set()
        base_docs = {text: self.base(text) for text in references}
        for text, doc in base_docs.items():
            gold = sorted(references[text])
            for token in doc:
                start, end = token.idx, token.idx + len(token.text)
                if bisect_right(gold, start) < bisect_left(gold, end):  # a gold boundary inside
                    splittable.add(token.text.lower())
        rows, base_splits, labels = [], [], []
        for text, doc in base_docs.items():
            for candidate in candidates(text, doc, splittable):
                rows.append(feature_ids(text, candidate, self.classifier.bits))
                base_splits.append(candidate.base_split)
                labels.append(candidate.position in references[text])
        self.classifier.fit(rows, base_splits, labels, splittable, self.l2)
        self.decided.clear()

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return srsly.msgpack_dumps(
            {BASE_FILE: self.base.to_bytes(exclude=exclude), BOUNDARIES_FILE: self.classifier.to_bytes()}
        )

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "TreebankTokenizer":
        try:
            message = srsly.msgpack_loads(data)
            base, boundaries = message[BASE_FILE], message[BOUNDARIES_FILE]
        except (ValueError, TypeError, KeyError) as error:
            raise BoundaryDataError(
                f"The tokenizer data is not a TreebankTokenizer's ({error!r}). {SAVED_WITH_ANOTHER}"
            ) from error
        classifier = self.new_classifier().from_bytes(boundaries)
        self.base = self.loaded_base(base, exclude, "the tokenizer data")
        self.classifier = classifier  # which drops the decisions kept
        return self

    def loaded_base(self, data: bytes, exclude: Iterable[str], source: str) -> Tokenizer:
        """A new base tokenizer with `data` loaded into it (spaCy's from_bytes resets every
        setting first, so nothing of the old one is kept): damaged data is a
        BoundaryDataError naming its source, and leaves this tokenizer as it was."""
        loaded = Tokenizer(self.vocab)
        try:
            loaded.from_bytes(data, exclude=exclude)
        except (ValueError, TypeError, KeyError, re.error) as error:
            raise BoundaryDataError(
                f"{source}: spaCy's tokenizer data in it is damaged ({error!r}). "
                "Restore the pipeline folder or re-train."
            ) from error
        return loaded

    def new_classifier(self) -> BoundaryClassifier:
        """An untrained classifier with this one's settings (checked before anything is replaced)."""
        return BoundaryClassifier(self.classifier.bits, self.classifier.base_prior)

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.base.to_disk(folder / BASE_FILE, exclude=exclude)
        (folder / BOUNDARIES_FILE).write_bytes(self.classifier.to_bytes())

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "TreebankTokenizer":
        folder = Path(path)
        missing = [name for name in (BASE_FILE, BOUNDARIES_FILE) if not (folder / name).is_file()]
        if missing:
            raise BoundaryDataError(
                f"{folder} is not a TreebankTokenizer folder: it lacks {', '.join(missing)}. "
                + SAVED_WITH_ANOTHER
            )
        try:
            classifier = self.new_classifier().from_bytes((folder / BOUNDARIES_FILE).read_bytes())
        except BoundaryDataError as error:
            raise BoundaryDataError(f"{folder / BOUNDARIES_FILE}: {error}") from error
        self.base = self.loaded_base((folder / BASE_FILE).read_bytes(), exclude, str(folder / BASE_FILE))
        self.classifier = classifier  # which drops the decisions kept
        return self


def treebank_tokenizer(nlp: Language) -> TreebankTokenizer:
    """The pipeline's tokenizer, which must be a TreebankTokenizer."""
    if not isinstance(nlp.tokenizer, TreebankTokenizer):
        raise TypeError(
            f"The pipeline's tokenizer is {type(nlp.tokenizer).__name__}, not a TreebankTokenizer: set "
            '[nlp.tokenizer] @tokenizers = "spacy_torch_tagger.TreebankTokenizer.v1".'
        )
    return nlp.tokenizer


@registry.tokenizers("spacy_torch_tagger.TreebankTokenizer.v1")
def make_treebank_tokenizer(
    hash_bits: int = 20, base_prior: float = 2.0, l2: float = 4.0
) -> Callable[[Language], TreebankTokenizer]:
    """[nlp.tokenizer]: the language's spaCy tokenizer, corrected by boundaries learnt from the
    training corpus during initialization: `2**hash_bits` feature rows, a fixed logit of
    `base_prior` towards the base tokenizer's decision, and an L2 penalty `l2` on the weights
    (the larger, the more examples a pattern needs to overrule the base)."""
    make_base = registry.tokenizers.get(BASE_TOKENIZER)()

    def create(nlp: Language) -> TreebankTokenizer:
        own = type(nlp).Defaults.config.get("nlp", {}).get("tokenizer", {}).get("@tokenizers", BASE_TOKENIZER)
        if own != BASE_TOKENIZER:
            raise ValueError(
                f"TreebankTokenizer corrects spaCy's rule-based tokenizer ({BASE_TOKENIZER}), but "
                f"'{nlp.lang}' tokenizes with {own}: keep that language's own [nlp.tokenizer]."
            )
        if l2 <= 0:
            raise ValueError(
                f"[nlp.tokenizer] l2 must be > 0, not {l2}: it keeps one example from overruling the base."
            )
        return TreebankTokenizer(make_base(nlp), hash_bits, base_prior, l2)

    return create
