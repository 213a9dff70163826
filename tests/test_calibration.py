# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""Temperature scaling, the expected calibration error, and the calibrate command."""

import subprocess
import sys
from pathlib import Path
from typing import Tuple

import numpy
import pytest
import spacy
import srsly
from spacy.training import Corpus
from thinc.api import Config

from spacy_torch_tagger.__main__ import main
from spacy_torch_tagger.calibration.calibrate import CalibrationError, calibrate, collect_logits
from spacy_torch_tagger.calibration.temperature_scaling import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from spacy_torch_tagger.pipeline.temperatures import softmax

from conftest import CORPUS, REPO, corpus_examples, train_pipeline


def _synthetic(
    temperature: float, n: int = 20000, n_labels: int = 12, seed: int = 0
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Logits and labels drawn from softmax(logits / temperature): `temperature` is the true one."""
    rng = numpy.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n, n_labels))
    probs = softmax(logits, temperature)
    cumulative = probs.cumsum(axis=1)
    gold = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return logits, numpy.minimum(gold, n_labels - 1)


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.0, 4.0])
def test_fitting_recovers_a_known_temperature(true_temperature):
    logits, gold = _synthetic(true_temperature)
    fitted = fit_temperature(logits, gold)
    assert fitted == pytest.approx(true_temperature, rel=0.06)
    best = negative_log_likelihood(logits, gold, fitted)
    for other in (fitted * 0.8, fitted * 1.25):
        assert best < negative_log_likelihood(logits, gold, other)


def test_calibration_lowers_the_ece_of_over_confident_logits():
    logits, gold = _synthetic(1.0)
    over_confident = 3.0 * logits
    fitted = fit_temperature(over_confident, gold)
    assert fitted == pytest.approx(3.0, rel=0.06)
    before = expected_calibration_error(softmax(over_confident), gold)
    after = expected_calibration_error(softmax(over_confident, fitted), gold)
    assert before > 0.05
    assert after < before / 3
    assert after < 0.02, "labels drawn from the calibrated distribution: ECE is sampling noise"


def test_the_fit_stops_at_its_bounds():
    logits, gold = _synthetic(1.0, n=2000)
    perfect = numpy.eye(logits.shape[1])[gold] * 5.0
    assert fit_temperature(perfect, gold) == pytest.approx(MIN_TEMPERATURE, rel=1e-3)
    noise = numpy.random.default_rng(1).normal(size=logits.shape)
    assert fit_temperature(noise, gold) == pytest.approx(MAX_TEMPERATURE, rel=1e-3)


def test_ece_by_hand():
    # Bin (0.8667, 0.9333]: 2 tokens at 0.9, 1 right -> |0.5 - 0.9| = 0.4, weight 2/4.
    # Bin (0.6667, 0.7333]: 2 tokens at 0.7, both right -> |1.0 - 0.7| = 0.3, weight 2/4.
    probs = numpy.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.7, 0.3]])
    gold = numpy.array([0, 1, 1, 0])
    assert expected_calibration_error(probs, gold) == pytest.approx(0.5 * 0.4 + 0.5 * 0.3)
    assert expected_calibration_error(probs, gold, bins=1) == pytest.approx(abs(0.75 - 0.8))
    assert expected_calibration_error(numpy.array([[1.0, 0.0]]), numpy.array([0])) == 0.0


@pytest.mark.parametrize(
    "scores, gold, message",
    [
        (numpy.zeros((3, 2)), numpy.zeros(2, dtype=int), "shapes"),
        (numpy.zeros((0, 2)), numpy.zeros(0, dtype=int), "no tokens"),
        (numpy.zeros((2, 2)), numpy.array([0, 2]), r"integers in \[0, 2\)"),
        (numpy.zeros((2, 2)), numpy.array([0.0, 1.0]), "integers"),
    ],
)
def test_bad_inputs_are_clear_errors(scores, gold, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(scores, gold)
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(scores, gold)


@pytest.fixture(scope="module")
def saved_pipeline(tmp_path_factory, trained_nlp) -> Path:
    """The session's tag + pos pipeline on disk (over-trained on the small corpus: over-confident)."""
    path = tmp_path_factory.mktemp("calibrate") / "pipeline"
    trained_nlp.to_disk(path)
    return path


def test_calibrate_fits_and_sets_the_temperatures(saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    examples = corpus_examples(nlp, "dev")
    report = calibrate(nlp, examples)
    tagger = nlp.get_pipe("torch_tagger")
    assert set(report.targets) == {"tag", "pos"}
    for target, result in report.targets.items():
        logits, gold = collect_logits(nlp, "torch_tagger", examples)[target]
        assert result.tokens == len(gold) > 100
        assert result.temperature == tagger.temperatures[target] == fit_temperature(logits, gold)
        assert result.temperature_before == 1.0
        assert result.nll_after <= result.nll_before + 1e-9
        assert result.ece_before == pytest.approx(expected_calibration_error(softmax(logits), gold))


def test_the_calibrate_command_writes_a_calibrated_pipeline(saved_pipeline, tmp_path, capsys):
    output, metrics = tmp_path / "calibrated", tmp_path / "out" / "metrics.json"
    status = main(
        [
            "calibrate",
            str(saved_pipeline),
            str(CORPUS / "dev.spacy"),
            "--output",
            str(output),
            "--metrics",
            str(metrics),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0
    assert "ECE before (%)" in printed and "tag" in printed and "pos" in printed
    results = srsly.read_json(metrics)
    saved_cfg = srsly.read_json(output / "torch_tagger" / "cfg")
    untouched_cfg = srsly.read_json(saved_pipeline / "torch_tagger" / "cfg")
    assert "temperatures" in untouched_cfg and untouched_cfg["temperatures"] == {"tag": 1.0, "pos": 1.0}
    for target in ("tag", "pos"):
        fitted = results["targets"][target]["temperature"]
        assert saved_cfg["temperatures"][target] == pytest.approx(fitted)
        assert fitted != 1.0
        assert 0.0 <= results["targets"][target]["ece_after"] <= 1.0
        assert f"{100 * results['targets'][target]['ece_before']:.2f}" in printed
    loaded = spacy.load(output, config={"components": {"torch_tagger": {"probabilities": True}}})
    assert loaded.get_pipe("torch_tagger").temperatures == pytest.approx(saved_cfg["temperatures"])
    doc = loaded("The dog ate the apple.")
    assert all(0.0 < t._.torch_tagger_probs["tag"] <= 1.0 for t in doc)


def test_bad_arguments_are_clear_errors(saved_pipeline, tmp_path, capsys):
    dev = str(CORPUS / "dev.spacy")
    cases = [
        ([str(tmp_path / "missing"), dev], 1, "Can't find the pipeline"),
        ([str(tmp_path), dev], 1, "is not a pipeline directory (no meta.json or config.cfg)"),
        ([dev, dev], 1, "is a file, not a pipeline directory"),
        ([str(saved_pipeline), str(tmp_path / "missing.spacy")], 2, "does not exist"),
        ([str(saved_pipeline), str(CORPUS / "sentences.txt")], 1, "must be a .spacy file"),
        ([str(saved_pipeline), dev, "--component", "tagger"], 1, "no torch_tagger named 'tagger'"),
    ]
    for args, status, message in cases:
        assert main(["calibrate", *args, "--output", str(tmp_path / "never")]) == status
        printed = capsys.readouterr()
        assert message in " ".join((printed.out + printed.err).split()), args
    assert not (tmp_path / "never").exists()


def test_data_without_a_targets_labels_is_a_clear_error():
    nlp = train_pipeline(["tag", "pos"], steps=0)
    examples = corpus_examples(nlp, "dev")
    for eg in examples:
        for token in eg.reference:
            token.pos_ = ""
    with pytest.raises(CalibrationError, match=r"no gold labels .* target\(s\) \['pos'\]"):
        calibrate(nlp, examples)
    assert nlp.get_pipe("torch_tagger").temperatures == {"tag": 1.0, "pos": 1.0}


def test_a_pipeline_without_a_torch_tagger_is_a_clear_error():
    with pytest.raises(CalibrationError, match="no torch_tagger"):
        calibrate(spacy.blank("en"), [])


@pytest.mark.slow
def test_spacy_train_calibrates_each_saved_pipeline_with_the_before_to_disk_callback(tmp_path):
    config = Config().from_disk(REPO / "configs" / "demo.cfg", interpolate=False)
    config["training"]["before_to_disk"] = {
        "@misc": "spacy_torch_tagger.calibrate_before_to_disk.v1",
        "dev": "${paths.dev}",
    }
    config["training"]["max_steps"] = 40
    config["training"]["eval_frequency"] = 20
    config.to_disk(tmp_path / "config.cfg", interpolate=False)
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(tmp_path / "config.cfg"), "-o", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for saved in ("model-best", "model-last"):
        nlp = spacy.load(tmp_path / "out" / saved)
        tagger = nlp.get_pipe("torch_tagger")
        report = nlp.meta["torch_tagger_calibration"]["torch_tagger"]
        for target, temperature in tagger.temperatures.items():
            assert temperature == pytest.approx(report[target]["temperature"])
            assert temperature != 1.0
            # Refitting on the saved pipeline finds the same temperature: it was fitted on these weights.
            logits, gold = collect_logits(nlp, "torch_tagger", Corpus(str(CORPUS / "dev.spacy"))(nlp))[target]
            assert fit_temperature(logits, gold) == pytest.approx(temperature, rel=1e-4)


def test_the_before_to_disk_callback_checks_its_dev_path(tmp_path):
    from spacy.util import registry

    make = registry.misc.get("spacy_torch_tagger.calibrate_before_to_disk.v1")
    with pytest.raises(ValueError, match="does not exist"):
        make(tmp_path / "missing.spacy")


def test_with_in_place_the_command_calibrates_in_place(saved_pipeline, tmp_path, capsys):
    import shutil

    pipeline = tmp_path / "pipeline"
    shutil.copytree(saved_pipeline, pipeline)
    assert main(["calibrate", str(pipeline), str(CORPUS / "dev.spacy"), "--in-place"]) == 0
    assert f"Saved the calibrated pipeline to {pipeline}" in " ".join(capsys.readouterr().out.split())
    temperatures = spacy.load(pipeline).get_pipe("torch_tagger").temperatures
    assert temperatures != {"tag": 1.0, "pos": 1.0}
    assert spacy.load(pipeline).meta["torch_tagger_calibration"]["torch_tagger"]["tag"]["temperature"] == (
        pytest.approx(temperatures["tag"])
    )
