"""spacy_torch_tagger.TreebankTokenizer.v1: spaCy's tokens until trained; after training,
the treebank's boundaries inside chunks, on unseen words too; the text, whitespace and
norms kept; saved and loaded safely, by spacy.load through the entry point."""

import random
import re
from pathlib import Path
from typing import List, Tuple, Union

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from spacy_torch_tagger.tokenization import treebank_tokenizer as treebank_tokenizer_module
from spacy_torch_tagger.tokenization.boundary_candidates import (
    candidates,
    char_class,
    chunks_to_decide,
    shape,
    token_boundaries,
)
from spacy_torch_tagger.tokenization.boundary_classifier import BoundaryDataError
from spacy_torch_tagger.tokenization.treebank_tokenizer import (
    BOUNDARIES_FILE,
    TreebankTokenizer,
    treebank_tokenizer,
)

CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "spacy_torch_tagger.TreebankTokenizer.v1"}}}
NOUNS = ["cats", "dogs", "tea", "milk", "trains", "books", "maps", "rain", "bread", "music", "paint", "wood"]
# Gold tokens (word, space after) of sentences whose tokens spaCy's English tokenizer gets wrong:
# `and/or` and `!!` kept whole, phone numbers kept whole, `wanna` split.
Sentence = List[Tuple[str, bool]]


def sentence(rng: random.Random) -> Sentence:
    first, second = rng.sample(NOUNS, 2)
    number = f"{rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
    kind = rng.randrange(8)
    if kind == 0:
        return [(first.capitalize(), True), ("and/or", True), (second, False), ("!!", False)]
    if kind == 1:
        return [("Call", True), (number, True), ("for", True), (first, False), (".", False)]
    if kind == 2:
        return [("I", True), ("wan", False), ("na", True), ("buy", True), (first, False), (".", False)]
    if kind == 3:
        return [("We", True), ("do", False), ("n't", True), ("like", True), (first, False), (".", False)]
    if kind == 4:
        return [("The", True), (first, True), ("and", True), ("the", True), (second, False), ("!", False)]
    # Most of a treebank is punctuation spaCy splits off as the treebank does.
    if kind == 5:
        return [("(", False), (first, False), (")", True), (second, False), (",", True), ("yes", False)]
    if kind == 6:
        return [('"', False), (first, False), (",", False), ('"', True), ("said", True), (second, False)]
    return [("It", False), ("'s", True), (first, False), (";", True), (second, False), ("...", False)]


def treebank_examples(nlp: Language, n_docs: int = 80, seed: int = 0) -> List[Example]:
    rng = random.Random(seed)
    examples = []
    for _ in range(n_docs):
        words: Sentence = []
        for _ in range(3):
            words.extend(sentence(rng))
            words[-1] = (words[-1][0], True)
        words[-1] = (words[-1][0], False)
        reference = Doc(nlp.vocab, words=[word for word, _ in words], spaces=[space for _, space in words])
        examples.append(Example(nlp.make_doc(reference.text), reference))
    return examples


def trained_nlp() -> Language:
    nlp = spacy.blank("en", config=CONFIG)
    examples = treebank_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


@pytest.fixture(scope="module")
def nlp() -> Language:
    return trained_nlp()


def tokens(nlp: Language, text: str) -> List[str]:
    return [token.text for token in nlp(text)]


UNSEEN = {
    # words never seen in training, in the patterns the treebank showed
    "Owls and/or bats!!": ["Owls", "and/or", "bats", "!!"],
    "Call 341-2290 for soup.": ["Call", "341-2290", "for", "soup", "."],
    "I wanna buy soup.": ["I", "wan", "na", "buy", "soup", "."],
}
ORDINARY = ["We don't like soup.", "The owls and the bats!", "Mr. Smith paid $5.50 (in cash) at 3:30 p.m."]


def test_untrained_it_gives_spacys_tokens():
    nlp = spacy.blank("en", config=CONFIG)
    assert isinstance(nlp.tokenizer, TreebankTokenizer)
    for text in [*UNSEEN, *ORDINARY]:
        assert tokens(nlp, text) == [token.text for token in treebank_tokenizer(nlp).base(text)]
    assert tokens(nlp, "Owls and/or bats!!") != UNSEEN["Owls and/or bats!!"]


@pytest.mark.parametrize("text", sorted(UNSEEN))
def test_trained_it_makes_the_treebanks_tokens_on_unseen_words(nlp, text):
    assert tokens(nlp, text) == UNSEEN[text]


@pytest.mark.parametrize("text", ORDINARY)
def test_trained_it_keeps_the_tokens_spacy_gets_right(nlp, text):
    assert tokens(nlp, text) == [token.text for token in treebank_tokenizer(nlp).base(text)]


@pytest.mark.parametrize(
    "text",
    [
        "  Owls and/or bats!!  \n\nI wanna\tgo. ",
        "Ünïcode and/or 👍🏽!! 341-2290\u00a0x",
        "",
        " ",
        "!!",
        "and/or",
    ],
)
def test_text_whitespace_and_norms_survive_a_changed_doc(nlp, text):
    doc = nlp(text)
    base = treebank_tokenizer(nlp).base(text)
    assert doc.text == text
    spans = {(token.idx, token.text): token.norm_ for token in base}
    for token in doc:
        if (token.idx, token.text) in spans:
            assert token.norm_ == spans[(token.idx, token.text)]


def test_a_changed_doc_keeps_the_norms_of_the_exceptions_only_on_unchanged_tokens(monkeypatch):
    nlp = trained_nlp()
    doc = nlp("I wanna go!! We don't.")
    assert [token.text for token in doc][:5] == ["I", "wan", "na", "go", "!!"]
    assert doc[-2].text == "n't" and doc[-2].norm_ == "not"
    # Merging `do` and `n't` (every base boundary removed) leaves no norm of a piece on the whole.
    monkeypatch.setattr(treebank_tokenizer(nlp).classifier, "score", lambda ids, base_split: -5.0)
    treebank_tokenizer(nlp).decided.clear()
    merged = nlp("We don't.")
    assert [token.text for token in merged] == ["We", "don't."]
    assert merged[1].norm_ == "don't."


def test_the_same_corpus_trains_the_same_bytes():
    assert treebank_tokenizer(trained_nlp()).to_bytes() == treebank_tokenizer(trained_nlp()).to_bytes()


def test_spacy_load_restores_it_from_disk_and_bytes(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert isinstance(loaded.tokenizer, TreebankTokenizer)
    fresh = spacy.blank("en", config=CONFIG)
    treebank_tokenizer(fresh).from_bytes(treebank_tokenizer(nlp).to_bytes())
    for text in [*UNSEEN, *ORDINARY]:
        assert tokens(loaded, text) == tokens(nlp, text) == tokens(fresh, text)


def saved(nlp: Language, folder: Path) -> Path:
    nlp.to_disk(folder)
    return folder / "tokenizer" / BOUNDARIES_FILE


def test_a_pickle_in_place_of_the_boundaries_is_refused(nlp, tmp_path):
    import pickle

    boundaries = saved(nlp, tmp_path / "pipeline")
    boundaries.write_bytes(pickle.dumps({"rows": [1, 2]}))
    with pytest.raises(
        BoundaryDataError, match="not a valid safetensors file.*Pickled files are never loaded"
    ):
        spacy.load(tmp_path / "pipeline")


def test_a_missing_boundary_file_is_named(nlp, tmp_path):
    saved(nlp, tmp_path / "pipeline").unlink()
    with pytest.raises(BoundaryDataError, match=f"lacks {BOUNDARIES_FILE}"):
        spacy.load(tmp_path / "pipeline")


def test_a_pipeline_saved_with_spacys_tokenizer_is_refused_with_a_reason(tmp_path):
    spacy.blank("en").to_disk(tmp_path / "pipeline")
    with pytest.raises(BoundaryDataError, match="not a TreebankTokenizer folder"):
        spacy.load(tmp_path / "pipeline", config=CONFIG)


def test_a_different_hash_size_is_refused_with_the_setting_to_use(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    with pytest.raises(BoundaryDataError, match="hash_bits = 20 but the config says 18"):
        spacy.load(tmp_path / "pipeline", config={"nlp": {"tokenizer": {"hash_bits": 18}}})


def test_a_different_prior_is_refused_with_the_setting_to_use(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    with pytest.raises(BoundaryDataError, match="base_prior = 2.0 but the config says 0.5"):
        spacy.load(tmp_path / "pipeline", config={"nlp": {"tokenizer": {"base_prior": 0.5}}})


def test_damaged_weights_are_refused(nlp, tmp_path):
    import numpy
    import safetensors.numpy

    boundaries = saved(nlp, tmp_path / "pipeline")
    tensors = safetensors.numpy.load(boundaries.read_bytes())
    tensors["rows"] = tensors["rows"][:-1]
    metadata_source = treebank_tokenizer(nlp).classifier.to_bytes()
    header = metadata_source[8 : 8 + int.from_bytes(metadata_source[:8], "little")]
    import json

    metadata = json.loads(header)["__metadata__"]
    boundaries.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))
    with pytest.raises(BoundaryDataError, match="rows and values do not match"):
        spacy.load(tmp_path / "pipeline")
    tensors = safetensors.numpy.load(treebank_tokenizer(nlp).classifier.to_bytes())
    tensors["values"] = numpy.full_like(tensors["values"], numpy.nan)
    boundaries.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))
    with pytest.raises(BoundaryDataError, match="not all are finite"):
        spacy.load(tmp_path / "pipeline")


def test_special_cases_go_to_the_base_tokenizer():
    trained = trained_nlp()
    treebank_tokenizer(trained).add_special_case("soupy", [{"ORTH": "sou"}, {"ORTH": "py"}])
    assert tokens(trained, "A soupy day.") == ["A", "sou", "py", "day", "."]


def test_both_sides_of_a_one_character_infix_are_decided_together(monkeypatch):
    """`well-known`: a boundary kept before the hyphen (+1) and removed after it (-3) would
    give `well`, `-known`; together (mean -1) the word stays whole."""
    nlp = trained_nlp()
    tokenizer = treebank_tokenizer(nlp)
    assert [token.text for token in tokenizer.base("well-known")] == ["well", "-", "known"]
    monkeypatch.setattr(
        treebank_tokenizer_module, "feature_ids", lambda text, candidate, bits: [candidate.position]
    )
    monkeypatch.setattr(tokenizer.classifier, "score", lambda ids, base_split: 1.0 if ids[0] == 4 else -3.0)
    assert tokens(nlp, "well-known") == ["well-known"]


def test_one_example_does_not_overrule_the_base_tokenizer_many_do():
    """`??` kept whole once in the treebank leaves spaCy's `? ?`; `!!` kept whole in about
    fifty sentences makes `!!` one token."""
    nlp = spacy.blank("en", config=CONFIG)
    once = Doc(nlp.vocab, words=["Why", "??"], spaces=[False, False])
    examples = [*treebank_examples(nlp), Example(nlp.make_doc(once.text), once)]
    nlp.initialize(lambda: examples)
    assert tokens(nlp, "Why??") == ["Why", "?", "?"]
    assert tokens(nlp, "Why!!") == ["Why", "!!"]


def test_the_same_text_gets_the_same_tokens_alone_after_others_and_in_another_process(nlp):
    """Decisions kept per chunk do not change tokens; the pickled tokenizer (nlp.pipe with
    n_process > 1) starts without them and tokenizes the same."""
    import pickle

    texts = [*UNSEEN, *ORDINARY, "Owls and/or bats!! Call 341-2290."]
    tokenizer = treebank_tokenizer(nlp)
    alone = {}
    for text in texts:
        tokenizer.decided.clear()
        alone[text] = [token.text for token in tokenizer(text)]
    second_pass = list(tokenizer.pipe(texts * 2))[len(texts) :]
    after_others = {text: [token.text for token in doc] for text, doc in zip(texts, second_pass, strict=True)}
    assert after_others == alone
    assert tokenizer.decided
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert not copy.decided
    assert {text: [token.text for token in copy(text)] for text in texts} == alone
    assert [[token.text for token in doc] for doc in nlp.pipe(texts, n_process=2)] == [
        alone[text] for text in texts
    ]


def test_decisions_are_kept_per_chunk_and_what_follows_it(monkeypatch):
    """A classifier that reads the next chunk (here: merge everything before an upper-case
    word) decides `bats!!` anew for each next chunk, whatever was decided before."""
    nlp = trained_nlp()
    monkeypatch.setattr(
        treebank_tokenizer_module,
        "feature_ids",
        lambda text, candidate, bits: [candidate.chunk.next_shape == "X"],
    )
    monkeypatch.setattr(
        treebank_tokenizer(nlp).classifier, "score", lambda ids, base_split: -5.0 if ids[0] else 5.0
    )
    for _ in range(2):
        assert tokens(nlp, "bats!! x") == ["bats", "!", "!", "x"]
        assert tokens(nlp, "bats!! X") == ["bats!!", "X"]


def always_split(nlp: Language, monkeypatch) -> TreebankTokenizer:
    """The pipeline's tokenizer with a classifier that votes "boundary" at every candidate."""
    tokenizer = treebank_tokenizer(nlp)
    monkeypatch.setattr(tokenizer.classifier, "score", lambda ids, base_split: 5.0)
    return tokenizer


ABBREVIATED = ["Ask Mr.Smith now.", "e.g.Paris and St.Louis", "Dr.Who-fans", "x3-y.z"]


@pytest.mark.parametrize("text", ABBREVIATED)
def test_each_candidate_knows_whether_the_base_split_there(nlp, text):
    tokenizer = treebank_tokenizer(nlp)
    base = tokenizer.base(text)
    boundaries = token_boundaries(base)
    found = candidates(text, base, tokenizer.classifier.splittable)
    assert found
    assert [candidate.base_split for candidate in found] == [
        candidate.position in boundaries for candidate in found
    ]


def test_a_classifier_that_keeps_every_boundary_keeps_the_abbreviations_apart(monkeypatch):
    tokenizer = always_split(trained_nlp(), monkeypatch)
    assert [token.text for token in tokenizer("Ask Mr.Smith now.")] == ["Ask", "Mr", ".", "Smith", "now", "."]


def test_urls_mail_links_combining_marks_and_long_chunks_are_never_split(monkeypatch):
    tokenizer = always_split(trained_nlp(), monkeypatch)
    for word in ["mailto:john@example.com", "https://example.com/a-b?c=d", "cafe\u0301", "राजभाषा"]:
        assert [token.text for token in tokenizer(word)] == [word]
    long_chunk = "a," * 200
    assert [token.text for token in tokenizer(long_chunk)] == [
        token.text for token in tokenizer.base(long_chunk)
    ]
    assert not list(chunks_to_decide(long_chunk, tokenizer.base(long_chunk), set()))


def test_spacys_tokenizer_settings_are_the_bases():
    nlp = trained_nlp()
    tokenizer = treebank_tokenizer(nlp)
    assert tokenizer.infix_finditer == tokenizer.base.infix_finditer
    assert tokens(nlp, "fooxbar") == ["fooxbar"]
    tokenizer.infix_finditer = re.compile("x").finditer
    assert tokens(nlp, "fooxbar") == ["foo", "x", "bar"]
    assert tokenizer.explain("fooxbar") == tokenizer.base.explain("fooxbar")
    with pytest.raises(AttributeError):
        tokenizer.no_such_setting  # noqa: B018


def test_damaged_base_data_is_named_and_the_loaded_tokenizer_stays_as_it_was(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "pipeline" / "tokenizer" / "base").write_bytes(b"\x93\x01")
    with pytest.raises(BoundaryDataError, match="tokenizer/base: spaCy's tokenizer data in it is damaged"):
        spacy.load(tmp_path / "pipeline")
    tokenizer = treebank_tokenizer(trained_nlp())
    tokenizer.add_special_case("xyz", [{"ORTH": "x"}, {"ORTH": "yz"}])
    with pytest.raises(BoundaryDataError):
        tokenizer.from_disk(tmp_path / "pipeline" / "tokenizer")
    assert [token.text for token in tokenizer("xyz")] == ["x", "yz"]


def test_a_language_with_its_own_tokenizer_is_refused():
    with pytest.raises(ValueError, match="keep that language's own"):
        spacy.blank("zh", config=CONFIG)


@pytest.mark.parametrize("text", ["Ab1-!?_ ~", "ÉTÉ, ü 3½", "".join(chr(code) for code in range(128))])
def test_a_shape_is_one_class_per_character(text):
    assert shape(text) == "".join(char_class(char) for char in text)
    assert shape("Mr.Smith-42") == "Xx.Xxxxx-dd"


def test_a_pipeline_trained_with_spacys_tokenizer_takes_it_without_retraining(trained_nlp, tmp_path):
    """The recipe of docs/treebank-tokenizer.md: load with the tokenizer left out and the
    treebank tokenizer configured, fit it, save; the network is the trained one."""
    trained_nlp.to_disk(tmp_path / "trained")
    nlp = spacy.load(tmp_path / "trained", exclude=["tokenizer"], config=CONFIG)
    examples = treebank_examples(nlp)
    treebank_tokenizer(nlp).initialize(lambda: examples)
    nlp.to_disk(tmp_path / "with_treebank_tokens")
    reloaded = spacy.load(tmp_path / "with_treebank_tokens")
    assert tokens(reloaded, "Owls and/or bats!!") == UNSEEN["Owls and/or bats!!"]
    plain = "The dog ate the apple."
    assert [(token.text, token.tag_, token.pos_) for token in reloaded(plain)] == [
        (token.text, token.tag_, token.pos_) for token in trained_nlp(plain)
    ]


def test_one_example_does_not_overrule_spacy_through_the_gold_tokens_augmenter():
    """with_gold_tokens yields each doc and then each of its sentences: the tokenizer counts
    such a sentence once, so a single `Why??` kept whole in a two-sentence doc stays `? ?`."""
    from spacy_torch_tagger.pipeline.gold_tokens_augmenter import with_gold_tokens

    nlp = spacy.blank("en", config=CONFIG)
    words = ["Why", "??", "Owls", "and/or", "bats", "!"]
    spaces = [False, True, True, True, False, False]
    starts: List[Union[bool, int, None]] = [True, False, True, False, False, False]
    once = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=starts)
    examples = [*treebank_examples(nlp), Example(nlp.make_doc(once.text), once)]
    augmented = [augmented for example in examples for augmented in with_gold_tokens(nlp, example)]
    assert len(augmented) > len(examples)
    nlp.initialize(lambda: augmented)
    assert tokens(nlp, "Why??") == ["Why", "?", "?"]


def test_a_new_classifier_starts_without_the_old_ones_decisions(monkeypatch):
    nlp = trained_nlp()
    tokenizer = treebank_tokenizer(nlp)
    assert tokens(nlp, "Owls and/or bats!!") == UNSEEN["Owls and/or bats!!"]
    tokenizer.classifier = tokenizer.new_classifier()  # untrained: spaCy's tokens
    always = tokenizer.new_classifier()
    always.trained = True
    monkeypatch.setattr(always, "score", lambda ids, base_split: 5.0 if base_split else -5.0)
    tokenizer.classifier = always
    assert tokens(nlp, "Owls and/or bats!!") == [token.text for token in tokenizer.base("Owls and/or bats!!")]


def rewritten(data: bytes, change_tensors=None, change_settings=None) -> bytes:
    """A boundary file with its tensors or settings changed by the given functions."""
    import json

    import safetensors.numpy

    from spacy_torch_tagger.tokenization.boundary_classifier import METADATA_KEY

    tensors = safetensors.numpy.load(data)
    settings = json.loads(
        json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"][METADATA_KEY]
    )
    if change_tensors:
        change_tensors(tensors)
    if change_settings:
        change_settings(settings)
    return safetensors.numpy.save(tensors, metadata={METADATA_KEY: json.dumps(settings)})


def reverse_rows(tensors):
    tensors["rows"] = tensors["rows"][::-1].copy()


def negative_row(tensors):
    tensors["rows"][0] = -1


@pytest.mark.parametrize(
    "change_tensors, change_settings, message",
    [
        (reverse_rows, None, "rows must rise strictly"),
        (negative_row, None, "rows must rise strictly"),
        (
            None,
            lambda settings: settings.update(trained=False),
            "holds weights but says it was never trained",
        ),
        (
            None,
            lambda settings: settings.update(version=True),
            "is not spacy_torch_tagger.boundaries version 1",
        ),
        (None, lambda settings: settings.update(base_prior=-1.0), "metadata is damaged"),
        (None, lambda settings: settings.update(bits=True), "metadata is damaged"),
        (None, lambda settings: settings.update(splittable=[1]), "metadata is damaged"),
    ],
)
def test_a_boundary_file_that_does_not_hold_together_is_refused(
    nlp, change_tensors, change_settings, message
):
    data = rewritten(treebank_tokenizer(nlp).classifier.to_bytes(), change_tensors, change_settings)
    with pytest.raises(BoundaryDataError, match=message):
        treebank_tokenizer(nlp).new_classifier().from_bytes(data)


def test_an_unchanged_rewrite_of_a_boundary_file_loads(nlp):
    """The rewriting helper above changes nothing by itself."""
    data = rewritten(treebank_tokenizer(nlp).classifier.to_bytes())
    assert treebank_tokenizer(nlp).new_classifier().from_bytes(data).to_bytes() == data
