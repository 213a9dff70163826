"""`targets = "auto"`: the component predicts what the training data annotates."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin, MorphAnalysis, Token
from spacy.training import Example
from thinc.api import Adam

from spacy_torch_tagger.pipeline.component import TorchTagger

from conftest import REPO, SMALL_MODEL, corpus_examples, morph_examples, update_steps


def _tagger(nlp: Language) -> TorchTagger:
    tagger = nlp.get_pipe("torch_tagger")
    assert isinstance(tagger, TorchTagger)
    return tagger


def _auto_nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": "auto", "model": SMALL_MODEL})
    return nlp


def _with_each_gold_token(examples: List[Example], edit: Callable[[Token], None]) -> List[Example]:
    """Copies of the examples, `edit` applied to every token of each reference."""
    edited = []
    for example in examples:
        reference = example.reference.copy()
        for token in reference:
            edit(token)
        edited.append(Example(example.predicted, reference))
    return edited


def _copy_pos_into_tag(token: Token) -> None:
    """As `spacy convert` writes a treebank whose XPOS column is "_"."""
    token.tag_ = token.pos_


def _empty_morph(token: Token) -> None:
    """As a treebank whose FEATS column is "_"."""
    token.morph = MorphAnalysis(token.vocab, "_")


def _tags_copy_pos(examples: List[Example]) -> List[Example]:
    return _with_each_gold_token(examples, _copy_pos_into_tag)


def test_auto_predicts_every_target_a_treebank_fills():
    nlp = _auto_nlp()
    tagger = _tagger(nlp)
    assert tagger.targets == []
    nlp.initialize(lambda: morph_examples(nlp))
    assert tagger.targets == ["tag", "pos", "morph"]
    assert "Tense=Past" in tagger.label_data["morph"] and "PRP" in tagger.label_data["tag"]
    assert set(tagger.temperatures) == {"tag", "pos", "morph"}


def test_auto_leaves_out_tags_that_copy_upos_and_an_empty_feats_column():
    nlp = _auto_nlp()
    examples = _with_each_gold_token(_tags_copy_pos(morph_examples(nlp)), _empty_morph)
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["pos"]


def test_auto_predicts_tags_of_a_corpus_without_upos():
    nlp = _auto_nlp()
    examples = [
        Example.from_dict(nlp.make_doc("She runs"), {"tags": ["PRP", "VBZ"]}),
        Example.from_dict(nlp.make_doc("Dogs bark"), {"tags": ["NNS", "VBP"]}),
    ]
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["tag"]


def test_auto_on_unannotated_data_says_what_is_missing():
    nlp = _auto_nlp()
    examples = [Example.from_dict(nlp.make_doc("She runs"), {})]
    with pytest.raises(ValueError, match=r'targets = "auto".*no training example annotates'):
        nlp.initialize(lambda: examples)


def test_auto_takes_its_targets_from_labels_given_to_initialize():
    nlp = _auto_nlp()
    labels: Dict[str, Sequence[str]] = {"morph": ["Number=Sing", "_"], "pos": ["NOUN", "VERB"]}
    tagger = _tagger(nlp)
    tagger.initialize(lambda: morph_examples(nlp), nlp=nlp, labels=labels)
    assert tagger.targets == ["pos", "morph"]
    assert tagger.label_data == {"pos": ["NOUN", "VERB"], "morph": ["Number=Sing", "_"]}


def test_auto_refuses_a_plain_label_list_and_labels_before_initialize():
    nlp = _auto_nlp()
    tagger = _tagger(nlp)
    with pytest.raises(ValueError, match=r"give labels as a dict target -> list of labels"):
        tagger.initialize(lambda: morph_examples(nlp), nlp=nlp, labels=["NOUN", "VERB"])
    with pytest.raises(ValueError, match=r'targets = "auto" and chooses them at initialize'):
        tagger.add_label("NOUN")


def test_auto_keeps_its_choice_through_saving_and_scoring(tmp_path: Path):
    nlp = _auto_nlp()
    examples = _tags_copy_pos(corpus_examples(nlp))
    nlp.initialize(lambda: examples)
    update_steps(nlp, examples, 20, Adam(0.01))
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    tagger = _tagger(loaded)
    assert loaded.config["components"]["torch_tagger"]["targets"] == "auto"
    assert tagger.targets == ["pos"]
    assert tagger.label_data == _tagger(nlp).label_data
    text = "The dog ate the book ."
    assert [t.pos_ for t in loaded(text)] == [t.pos_ for t in nlp(text)]
    assert [t.tag_ for t in loaded(text)] == [""] * 6
    scores = loaded.evaluate(corpus_examples(loaded, "dev"))
    assert scores["pos_acc"] is not None and scores["targets_acc"] == scores["pos_acc"]
    assert "tag_acc" not in scores or scores["tag_acc"] is None


def test_a_saved_auto_pipeline_with_damaged_targets_names_the_cfg(tmp_path: Path):
    nlp = _auto_nlp()
    nlp.initialize(lambda: morph_examples(nlp))
    nlp.to_disk(tmp_path / "pipeline")
    cfg_path = tmp_path / "pipeline" / "torch_tagger" / "cfg"
    cfg = json.loads(cfg_path.read_text())
    cfg["targets"] = ["xpos"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"saved cfg is damaged.*Unknown torch_tagger target"):
        spacy.load(tmp_path / "pipeline")


def test_a_string_other_than_auto_is_refused_with_the_allowed_values():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r'or "auto" to predict what the training data annotates'):
        nlp.add_pipe("torch_tagger", config={"targets": "pos"})


def _merged_multiword_tokens(nlp: Language) -> List[Example]:
    """Greek as `spacy convert --merge-subtokens` writes GDT (XPOS repeats UPOS): a merged
    σε + article has tag ADP_DET, the first word's pos and both words' features."""
    words = ["Πήγα", "στο", "σπίτι"]
    annotation = {
        "words": words,
        "tags": ["VERB", "ADP_DET", "NOUN"],
        "pos": ["VERB", "ADP", "NOUN"],
        "morphs": ["Tense=Past", "Case=Acc|Definite=Def|PronType=Art", "Case=Acc"],
    }
    return [Example.from_dict(nlp.make_doc("Πήγα στο σπίτι"), annotation)]


def test_auto_leaves_out_the_joined_upos_tags_of_merged_multiword_tokens():
    nlp = spacy.blank("el")
    nlp.add_pipe("torch_tagger", config={"targets": "auto", "model": SMALL_MODEL})
    examples = _merged_multiword_tokens(nlp)
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["pos", "morph"]


def test_a_tag_target_over_joined_upos_tags_warns():
    nlp = spacy.blank("el")
    nlp.add_pipe("torch_tagger", config={"targets": ["tag", "pos"], "model": SMALL_MODEL})
    examples = _merged_multiword_tokens(nlp)
    with pytest.warns(UserWarning, match=r'copy of UPOS.*targets = \["pos"\].*or targets = "auto"'):
        nlp.initialize(lambda: examples)


def test_a_tag_that_is_not_a_upos_name_is_a_tag_of_its_own():
    nlp = spacy.blank("el")
    nlp.add_pipe("torch_tagger", config={"targets": "auto", "model": SMALL_MODEL})
    examples = _merged_multiword_tokens(nlp)
    examples[0].reference[1].tag_ = "AsPpSp_AtDf"  # GDT's own style of XPOS
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["tag", "pos", "morph"]


def test_upos_names_that_are_not_the_tokens_upos_are_tags_of_their_own():
    nlp = spacy.blank("el")
    nlp.add_pipe("torch_tagger", config={"targets": "auto", "model": SMALL_MODEL})
    examples = _merged_multiword_tokens(nlp)
    examples[0].reference[2].tag_ = "PROPN"  # pos NOUN: the XPOS column says something else
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["tag", "pos", "morph"]


def test_one_stray_tag_among_copies_of_upos_does_not_make_a_tag_target():
    nlp = _auto_nlp()
    examples = _tags_copy_pos(corpus_examples(nlp))
    assert sum(len(example.reference) for example in examples) > 200
    examples[0].reference[0].tag_ = "_38"  # as UD Hungarian-Szeged's dev split has one
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["pos"]


def test_a_merged_multiword_token_headed_by_a_later_word_is_a_copy_of_upos():
    nlp = spacy.blank("pt")
    nlp.add_pipe("torch_tagger", config={"targets": "auto", "model": SMALL_MODEL})
    # Portuguese "dele" = de + ele, merged by `spacy convert --merge-subtokens`: the
    # token's pos is that of "ele", which heads "de".
    annotation = {"words": ["casa", "dele"], "tags": ["NOUN", "ADP_PRON"], "pos": ["NOUN", "PRON"]}
    examples = [Example.from_dict(nlp.make_doc("casa dele"), annotation)]
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == ["pos"]


def test_initialize_starts_uncalibrated():
    nlp = _auto_nlp()
    nlp.initialize(lambda: morph_examples(nlp))
    tagger = _tagger(nlp)
    tagger.set_temperatures({"tag": 2.0, "pos": 2.0, "morph": 2.0})
    nlp.initialize(lambda: morph_examples(nlp))
    assert tagger.temperatures == {"tag": 1.0, "pos": 1.0, "morph": 1.0}


def test_a_list_holding_auto_says_to_write_a_string():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=r'write targets = "auto", a string'):
        nlp.add_pipe("torch_tagger", config={"targets": ["auto"]})


def _conllu(n_sentences: int, stray_xpos: int) -> str:
    """A treebank without XPOS of its own, but for `stray_xpos` sentences with one."""
    sentences = []
    for i in range(n_sentences):
        xpos = "_38" if i < stray_xpos else "_"
        sentences.append(
            f"# text = Dogs bark {i}\n"
            f"1\tDogs\tdog\tNOUN\t{xpos}\tNumber=Plur\t2\tnsubj\t_\t_\n"
            "2\tbark\tbark\tVERB\t_\tTense=Pres\t0\troot\t_\t_\n"
            f"3\t{i}\t{i}\tNUM\t_\t_\t2\tobj\t_\t_\n"
        )
    return "\n".join(sentences) + "\n"


@pytest.mark.parametrize("stray_xpos, expected", [(1, ["pos", "morph"]), (40, ["tag", "pos", "morph"])])
def test_the_treebank_report_and_auto_choose_the_same_targets(tmp_path: Path, stray_xpos, expected):
    conllu = tmp_path / "tb-ud-train.conllu"
    conllu.write_text(_conllu(100, stray_xpos), encoding="utf8")
    report = subprocess.run(
        [sys.executable, "benchmarks/treebank_columns.py", str(conllu), "--lang", "en"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(report.stdout)["targets"] == expected
    subprocess.run(
        [sys.executable, "-m", "spacy", "convert", str(conllu), str(tmp_path), "--converter", "conllu"],
        capture_output=True,
        check=True,
    )
    nlp = _auto_nlp()
    docs = DocBin().from_disk(tmp_path / "tb-ud-train.spacy").get_docs(nlp.vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    nlp.initialize(lambda: examples)
    assert _tagger(nlp).targets == expected
