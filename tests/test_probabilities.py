# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Per-token probabilities: what they hold, and that they survive the ways docs travel."""

import multiprocessing
from typing import Any, Dict, List

import numpy
import pytest
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from spacy_torch_tagger.layers.network_output import split_columns
from spacy_torch_tagger.pipeline.component import TorchTagger
from spacy_torch_tagger.pipeline.probabilities import PROBS_EXTENSION, TOP_K_EXTENSION
from spacy_torch_tagger.pipeline.temperatures import softmax

from conftest import REPO, SMALL_MODEL, copy_pipeline

TEXTS = ["The dog ate the apple.", "", "She smiled at me and the cat slept.", "Peter and Sue live in London."]
TOP_K = 3


@pytest.fixture(scope="module")
def prob_nlp(trained_nlp) -> Language:
    """A copy of the session's tag + pos pipeline that sets probabilities and the top 3
    labels (switched on after loading: its config keeps them off)."""
    nlp = copy_pipeline(trained_nlp)
    tagger = nlp.get_pipe("torch_tagger")
    tagger.probabilities = True
    tagger.top_k = TOP_K
    return nlp


def _distributions(nlp: Language, doc: Doc) -> Dict[str, numpy.ndarray]:
    """target -> the softmax of the network's logits for `doc`, at the target's temperature."""
    tagger = nlp.get_pipe("torch_tagger")
    scores = tagger.model.predict([nlp.make_doc(doc.text)])[0]
    return {
        target: softmax(numpy.asarray(columns), tagger.temperatures[target])
        for target, columns in split_columns(scores, tagger.label_data)
    }


def _extensions(docs: List[Doc]) -> List[List[Any]]:
    """Both extensions of every token; top-k as (label, probability) lists, so the order counts."""
    values = []
    for doc in docs:
        for token in doc:
            top = token._.get(TOP_K_EXTENSION)
            ordered = None if top is None else {t: list(ranked.items()) for t, ranked in top.items()}
            values.append((token._.get(PROBS_EXTENSION), ordered))
    return [values]


def test_probabilities_are_off_by_default(trained_nlp):
    assert trained_nlp.get_pipe("torch_tagger").probabilities is False
    doc = trained_nlp("The dog ate the apple.")
    assert all(t._.get(PROBS_EXTENSION) is None and t._.get(TOP_K_EXTENSION) is None for t in doc)


def test_the_chosen_labels_probability_is_the_maximum_of_the_distribution(prob_nlp):
    tagger = prob_nlp.get_pipe("torch_tagger")
    for text in TEXTS:
        doc = prob_nlp(text)
        distributions = _distributions(prob_nlp, doc)
        for token in doc:
            probs, top = token._.torch_tagger_probs, token._.torch_tagger_top_k
            assert set(probs) == set(top) == {"tag", "pos"}
            for target, distribution in distributions.items():
                row = distribution[token.i]
                assert 0.0 <= probs[target] <= 1.0
                assert probs[target] == pytest.approx(float(row.max()), abs=1e-6)
                assert len(top[target]) == TOP_K
                values = list(top[target].values())
                assert values == sorted(values, reverse=True)
                assert all(0.0 <= p <= 1.0 for p in values)
                assert values[0] == probs[target]
                for label, p in top[target].items():
                    assert p == pytest.approx(float(row[tagger.label_data[target].index(label)]), abs=1e-6)
            assert next(iter(top["tag"])) == token.tag_
            assert next(iter(top["pos"])) == token.pos_


def test_top_k_beyond_the_label_count_gives_every_label(prob_nlp):
    tagger = prob_nlp.get_pipe("torch_tagger")
    tagger.top_k = 1000
    try:
        token = prob_nlp("The dog ate the apple.")[1]
    finally:
        tagger.top_k = TOP_K
    for target, labels in tagger.label_data.items():
        ranked = token._.torch_tagger_top_k[target]
        assert sorted(ranked) == sorted(labels)
        assert sum(ranked.values()) == pytest.approx(1.0, abs=1e-5)


def test_top_k_alone_leaves_the_probs_extension_unset(prob_nlp):
    tagger = prob_nlp.get_pipe("torch_tagger")
    tagger.probabilities = False
    try:
        doc = prob_nlp("The dog ate the apple.")
    finally:
        tagger.probabilities = True
    assert all(t._.torch_tagger_probs is None and len(t._.torch_tagger_top_k["tag"]) == TOP_K for t in doc)


def test_temperature_changes_the_probabilities_not_the_labels(prob_nlp):
    tagger = prob_nlp.get_pipe("torch_tagger")
    text = "She smiled at me and the cat slept."
    before = prob_nlp(text)
    tagger.set_temperatures({"tag": 3.0, "pos": 0.5})
    try:
        after = prob_nlp(text)
        distributions = _distributions(prob_nlp, after)
    finally:
        tagger.set_temperatures({"tag": 1.0, "pos": 1.0})
    assert [t.tag_ for t in after] == [t.tag_ for t in before]
    for token, old in zip(after, before, strict=True):
        assert token._.torch_tagger_probs["tag"] == pytest.approx(float(distributions["tag"][token.i].max()))
        assert token._.torch_tagger_probs["tag"] < old._.torch_tagger_probs["tag"]
        assert token._.torch_tagger_probs["pos"] >= old._.torch_tagger_probs["pos"] - 1e-7


def test_a_kept_annotation_keeps_the_networks_probabilities(prob_nlp):
    doc = prob_nlp.make_doc("The dog ate the apple.")
    doc[1].tag_ = "KEEP"
    prob_nlp.get_pipe("torch_tagger")(doc)
    assert doc[1].tag_ == "KEEP"
    top = list(doc[1]._.torch_tagger_top_k["tag"].items())
    assert top[0][0] == "NN" and "KEEP" not in dict(top)
    assert doc[1]._.torch_tagger_probs["tag"] == top[0][1]


def test_probabilities_survive_docbin_with_user_data(prob_nlp):
    docs = list(prob_nlp.pipe(TEXTS))
    data = DocBin(store_user_data=True, docs=docs).to_bytes()
    loaded = list(DocBin().from_bytes(data).get_docs(spacy.blank("en").vocab))
    assert _extensions(loaded) == _extensions(docs)
    assert loaded[0][1]._.torch_tagger_probs is not None
    without = list(DocBin().from_bytes(DocBin(docs=docs).to_bytes()).get_docs(prob_nlp.vocab))
    assert without[0][1]._.torch_tagger_probs is None, "store_user_data=False drops them, as spaCy says"


def test_probabilities_survive_doc_to_bytes(prob_nlp):
    doc = prob_nlp(TEXTS[2])
    loaded = Doc(spacy.blank("en").vocab).from_bytes(doc.to_bytes())
    assert _extensions([loaded]) == _extensions([doc])
    assert all(t._.torch_tagger_probs is not None for t in loaded)


def test_probabilities_survive_two_processes(prob_nlp):
    texts = TEXTS * 3
    # The same batches as the workers get: the scores of a doc depend on its batch in the last bits.
    expected = _extensions(list(prob_nlp.pipe(texts, batch_size=2)))
    assert _extensions(list(prob_nlp.pipe(texts, n_process=2, batch_size=2))) == expected


def test_probabilities_survive_two_spawned_processes(prob_nlp, monkeypatch):
    """Under spawn the pipeline is pickled into fresh interpreters: the settings go with it."""
    import spacy.language

    monkeypatch.setattr(spacy.language, "mp", multiprocessing.get_context("spawn"))
    texts = TEXTS * 2
    expected = _extensions(list(prob_nlp.pipe(texts, batch_size=2)))
    assert _extensions(list(prob_nlp.pipe(texts, n_process=2, batch_size=2))) == expected


def test_settings_passed_when_loading_apply_and_temperatures_are_saved(prob_nlp, tmp_path):
    tagger = prob_nlp.get_pipe("torch_tagger")
    tagger.set_temperatures({"tag": 2.5, "pos": 0.75})
    try:
        prob_nlp.to_disk(tmp_path / "pipeline")
    finally:
        tagger.set_temperatures({"tag": 1.0, "pos": 1.0})
    plain = spacy.load(tmp_path / "pipeline")
    assert plain.get_pipe("torch_tagger").probabilities is False
    assert plain.get_pipe("torch_tagger").temperatures == {"tag": 2.5, "pos": 0.75}
    overrides = {"components": {"torch_tagger": {"probabilities": True, "top_k": 2}}}
    loaded = spacy.load(tmp_path / "pipeline", config=overrides)
    token = loaded("The dog ate the apple.")[1]
    assert len(token._.torch_tagger_top_k["pos"]) == 2
    distribution = _distributions(loaded, token.doc)["tag"][token.i]
    assert token._.torch_tagger_probs["tag"] == pytest.approx(float(distribution.max()), abs=1e-6)
    assert loaded.get_pipe("torch_tagger").temperatures["tag"] == 2.5


def test_a_pipeline_saved_before_calibration_loads_with_temperature_one():
    nlp = spacy.load(REPO / "tests" / "data" / "pipeline_0_1_0")
    tagger = nlp.get_pipe("torch_tagger")
    cfg = srsly.read_json(REPO / "tests" / "data" / "pipeline_0_1_0" / "torch_tagger" / "cfg")
    assert "temperatures" not in cfg
    assert tagger.temperatures == {target: 1.0 for target in tagger.targets}


@pytest.mark.parametrize(
    "temperatures", [{"tag": -1.0, "pos": 1.0}, {"tag": 1.0}, {"tag": "hot", "pos": 1.0}, [1.0]]
)
def test_a_damaged_saved_temperature_is_a_clear_error(prob_nlp, tmp_path, temperatures):
    prob_nlp.to_disk(tmp_path / "pipeline")
    cfg_path = tmp_path / "pipeline" / "torch_tagger" / "cfg"
    srsly.write_json(cfg_path, {**srsly.read_json(cfg_path), "temperatures": temperatures})
    with pytest.raises(ValueError, match="temperature.*damaged"):
        spacy.load(tmp_path / "pipeline")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"probabilities": "yes"}, "probabilities must be true or false"),
        ({"probabilities": 1}, "probabilities must be true or false"),
        ({"top_k": -1}, r"top_k must be an integer >= 0, got -1"),
        ({"top_k": 2.5}, r"top_k must be an integer >= 0"),
        ({"top_k": True}, r"top_k must be an integer >= 0"),
    ],
)
def test_bad_settings_are_clear_errors(config, message):
    nlp = spacy.blank("en")
    key = next(iter(config))
    with pytest.raises(ValueError, match=key):  # the config's type check or ours, both name the key
        nlp.add_pipe("torch_tagger", config={**config, "model": SMALL_MODEL})
    model = nlp.add_pipe("torch_tagger", config={"model": SMALL_MODEL}).model
    with pytest.raises(ValueError, match=message):
        TorchTagger(nlp.vocab, model, **config)


def test_set_temperatures_checks_its_input(prob_nlp):
    tagger = prob_nlp.get_pipe("torch_tagger")
    with pytest.raises(ValueError, match=r"must map each target \['tag', 'pos'\]"):
        tagger.set_temperatures({"tag": 2.0})
    with pytest.raises(ValueError, match="'pos' must be a number > 0"):
        tagger.set_temperatures({"tag": 2.0, "pos": 0})
    assert tagger.temperatures == {"tag": 1.0, "pos": 1.0}


def test_morph_probabilities_name_the_predicted_analysis():
    from spacy.training import Example
    from thinc.api import Adam

    nlp = spacy.blank("en")
    tagger = nlp.add_pipe(
        "torch_tagger",
        config={"targets": ["pos", "morph"], "model": SMALL_MODEL, "probabilities": True, "top_k": 2},
    )
    data = [
        ("She runs", ["PRON", "VERB"], ["Case=Nom|Number=Sing", "Number=Sing|Tense=Pres"]),
        ("They ran", ["PRON", "VERB"], ["Case=Nom|Number=Plur", "Tense=Past"]),
        ("Dogs bark .", ["NOUN", "VERB", "PUNCT"], ["Number=Plur", "Tense=Pres", "_"]),
    ]
    examples = [Example.from_dict(nlp.make_doc(t), {"pos": p, "morphs": m}) for t, p, m in data]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    doc = nlp("Dogs bark .")
    for token in doc:
        predicted = next(iter(token._.torch_tagger_top_k["morph"]))
        assert predicted in tagger.label_data["morph"]
        assert (str(token.morph) or "_") == predicted
        assert token._.torch_tagger_probs["morph"] == token._.torch_tagger_top_k["morph"][predicted]
    assert next(iter(doc[2]._.torch_tagger_top_k["morph"])) == "_"


def test_batch_probabilities_match_each_docs_own_and_break_ties_like_argmax():
    from spacy_torch_tagger.pipeline.probabilities import batch_probabilities, target_probabilities

    rng = numpy.random.default_rng(0)
    labels = {"tag": ["A", "B", "C"], "pos": ["NOUN", "VERB"]}
    scores = [rng.normal(size=(n, 5)).astype("float32") for n in (3, 0, 4)]
    scores[2][0, :3] = [1.0, 2.0, 2.0]  # a tie between B and C: argmax says B
    batch = batch_probabilities(scores, labels, {"tag": 2.0, "pos": 1.0}, top_k=2)
    assert [len(doc["tag"].best) for doc in batch] == [3, 0, 4]
    for doc_scores, doc in zip(scores, batch, strict=True):
        alone = target_probabilities(doc_scores[:, :3], 2.0, 2)
        assert numpy.allclose(doc["tag"].best, alone.best) and numpy.array_equal(
            doc["tag"].top_indices, alone.top_indices
        )
        assert numpy.array_equal(doc["pos"].top_indices[:, 0], doc_scores[:, 3:].argmax(axis=1))
    assert batch[2]["tag"].top_indices[0].tolist() == [1, 2]
    assert batch[2]["tag"].best[0] == batch[2]["tag"].top_probs[0, 0] == batch[2]["tag"].top_probs[0, 1]


def test_a_conflicting_extension_is_a_clear_error():
    from spacy.tokens import Token

    original = Token.get_extension(PROBS_EXTENSION)
    Token.set_extension(PROBS_EXTENSION, getter=lambda token: 0.5, force=True)
    try:
        with pytest.raises(ValueError, match="torch_tagger_probs.*getter"):
            spacy.blank("en").add_pipe("torch_tagger", config={"model": SMALL_MODEL, "probabilities": True})
        spacy.blank("en").add_pipe("torch_tagger", config={"model": SMALL_MODEL})  # off: no conflict
    finally:
        Token.set_extension(PROBS_EXTENSION, default=original[0], force=True)
