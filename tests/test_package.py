# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""`python -m spacy package` on a trained torch_tagger pipeline: the generated
README and meta.json give each target's labels apart, scores only for the targets
the pipeline predicts, and the license its owner chose."""

import json
import re
import warnings
from pathlib import Path
from typing import Any, Dict, NamedTuple

import pytest
import spacy
import srsly
from spacy.cli.package import package
from spacy.cli.train import train
from spacy.language import Language
from spacy.schemas import ModelMetaSchema

from conftest import CORPUS, REPO, SMALL_MODEL, corpus_examples

DEMO_CONFIG = REPO / "configs" / "demo.cfg"
LICENSE = "CC BY-SA 4.0"


class Packaged(NamedTuple):
    meta: Dict[str, Any]
    readme: str
    nlp: Language


def _package(model: Path, output: Path, meta_path: Path) -> Packaged:
    output.mkdir()
    # What `python -m spacy package MODEL OUTPUT --meta-path META --build none` runs.
    package(model, output, meta_path=meta_path, name="torch_tagger_test", version="0.0.1", create_sdist=False)
    folder = output / "en_torch_tagger_test-0.0.1"
    return Packaged(
        srsly.read_json(folder / "meta.json"), (folder / "README.md").read_text("utf8"), spacy.load(model)
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Packaged:
    """The demo config (targets tag and pos) trained briefly by `spacy train`, then packaged
    with a meta file giving the license."""
    folder = tmp_path_factory.mktemp("package")
    overrides = {
        "paths.train": str(CORPUS / "train.spacy"),
        "paths.dev": str(CORPUS / "dev.spacy"),
        "training.max_steps": 20,
        "training.eval_frequency": 20,
        # Configs filled by earlier versions list every target's keys.
        "training.score_weights.morph_acc": None,
        "training.score_weights.morph_per_feat": None,
    }
    train(DEMO_CONFIG, folder / "output", overrides=overrides)
    meta_path = folder / "meta.json"
    meta_path.write_text(json.dumps({"license": LICENSE, "description": "A test pipeline."}))
    return _package(folder / "output" / "model-best", folder / "packages", meta_path)


def _readme_row(readme: str, feature: str) -> str:
    return next(line for line in readme.splitlines() if line.startswith(f"| **{feature}** |"))


@pytest.mark.slow
def test_labels_are_given_per_target(packaged):
    label_data = packaged.nlp.get_pipe("torch_tagger").label_data
    assert set(label_data) == {"tag", "pos"} and "NOUN" in label_data["pos"] and "NN" in label_data["tag"]
    expected = [f"tag:{label}" for label in label_data["tag"]] + [
        f"pos:{label}" for label in label_data["pos"]
    ]
    assert packaged.meta["labels"] == {"torch_tagger": expected}
    row = next(line for line in packaged.readme.splitlines() if line.startswith("| **`torch_tagger`** |"))
    cells = re.findall(r"`([^`]+)`", row.split("|")[2])
    assert cells == expected


def test_one_target_keeps_bare_labels_as_spacys_tagger():
    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("torch_tagger", config={"targets": ["pos"], "model": SMALL_MODEL})
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    assert tagger.labels == tuple(tagger.label_data["pos"]) and "NOUN" in tagger.labels
    assert nlp.meta["labels"]["torch_tagger"] == list(tagger.labels)


@pytest.mark.slow
def test_only_the_predicted_targets_are_scored(packaged):
    performance = packaged.meta["performance"]
    assert {"tag_acc", "pos_acc", "targets_acc"} <= set(performance), performance
    assert not {"morph_acc", "morph_per_feat"} & set(performance), performance
    assert performance["pos_acc"] > 0.0
    accuracy = packaged.readme.split("### Accuracy", 1)[1]
    assert "`TAG_ACC`" in accuracy and "`POS_ACC`" in accuracy and "`TARGETS_ACC`" in accuracy
    assert "MORPH" not in accuracy
    assert "morph_acc" not in packaged.nlp.config["training"]["score_weights"]


@pytest.mark.slow
def test_the_license_is_the_one_given(packaged):
    assert packaged.meta["license"] == LICENSE
    assert _readme_row(packaged.readme, "License") == f"| **License** | `{LICENSE}` |"


@pytest.mark.slow
def test_no_license_is_made_up(packaged):
    """Without a meta file the pipeline's meta.json holds no license: the plugin chooses none."""
    assert packaged.nlp.meta["license"] == ""


def test_the_project_packages_with_its_meta_file():
    project = srsly.read_yaml(REPO / "project.yml")
    meta_path = REPO / project["vars"]["package_meta"]
    command = next(c for c in project["commands"] if c["name"] == "package")
    assert "--meta-path ${vars.package_meta}" in command["script"][0]
    assert "${vars.package_meta}" in command["deps"]
    meta = srsly.read_json(meta_path)
    assert meta["license"]
    # The meta file's keys replace the pipeline's; together they must validate.
    full = {"lang": "en", "name": "torch_tagger_ewt", "version": "0.1.0", **meta}
    ModelMetaSchema.model_validate(full)


def _initialized(*pipes: Dict[str, Any], weights: Dict[str, Any]) -> Language:
    nlp = spacy.blank("en")
    for pipe in pipes:
        nlp.add_pipe(pipe.pop("factory"), **pipe)
    nlp.config["training"]["score_weights"].update(weights)
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def test_score_weights_name_the_targets_in_use():
    nlp = _initialized(
        {"factory": "torch_tagger", "config": {"targets": ["pos"], "model": SMALL_MODEL}},
        weights={"tag_acc": None, "morph_acc": None, "morph_per_feat": None},
    )
    assert nlp.config["training"]["score_weights"] == {"targets_acc": 1.0, "pos_acc": None}


def test_score_weights_of_other_components_are_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the morphologizer finds no morph in the corpus
        nlp = _initialized(
            {"factory": "torch_tagger", "config": {"targets": ["tag"], "model": SMALL_MODEL}},
            {"factory": "morphologizer"},
            weights={},
        )
    weights = nlp.config["training"]["score_weights"]
    assert {"tag_acc", "pos_acc", "morph_acc", "morph_per_feat"} <= set(weights), weights


def test_a_weighted_score_of_a_missing_target_warns():
    with pytest.warns(UserWarning, match="Remove morph_acc"):
        nlp = _initialized(
            {"factory": "torch_tagger", "config": {"targets": ["tag"], "model": SMALL_MODEL}},
            weights={"morph_acc": 0.5},
        )
    assert nlp.config["training"]["score_weights"]["morph_acc"]  # kept (renormalized)
