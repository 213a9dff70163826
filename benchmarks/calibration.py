"""Calibration of a trained torch_tagger on held-out data, measured without fitting on
the tokens it is judged on, and the tagging cost of per-token probabilities.

The dev docs are split in two halves (even and odd docs): the temperature of each
target is fitted on one half and the ECE / NLL are measured on the other, both ways,
and the two results averaged. The in-sample numbers (fit and measure on all of dev,
what `python -m spacy_torch_tagger calibrate` prints) are reported beside them.

With --speed-rounds N: words per second of `nlp.pipe` over the dev texts (the first
--speed-docs of them) with probabilities off, on, and on with top_k = 3, alternating
in every round; the median per-round ratio to "off".

    python benchmarks/calibration.py PIPELINE DEV.spacy --output benchmarks/results/calibration_X.json
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy
import spacy
from spacy.training import Corpus

from spacy_torch_tagger.calibration.calibrate import collect_logits, find_component
from spacy_torch_tagger.calibration.temperature_scaling import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from spacy_torch_tagger.pipeline.temperatures import softmax


def _measure(logits: numpy.ndarray, gold: numpy.ndarray, temperature: float) -> Dict[str, float]:
    probs = softmax(logits, temperature)
    return {
        "ece": expected_calibration_error(probs, gold),
        "nll": negative_log_likelihood(logits, gold, temperature),
        "mean_confidence": float(probs.max(axis=1).mean()),
        "accuracy": float(numpy.mean(logits.argmax(axis=1) == gold)),
    }


def calibration_results(nlp: Any, name: str, examples: List[Any]) -> Dict[str, Any]:
    halves = [examples[0::2], examples[1::2]]
    per_half = [collect_logits(nlp, name, half) for half in halves]
    results: Dict[str, Any] = {}
    for target in per_half[0]:
        cross: Dict[str, List[float]] = {}
        temperatures = []
        for fit_half, test_half in ((0, 1), (1, 0)):
            temperature = fit_temperature(*per_half[fit_half][target])
            temperatures.append(temperature)
            logits, gold = per_half[test_half][target]
            for when, t in (("before", 1.0), ("after", temperature)):
                for key, value in _measure(logits, gold, t).items():
                    cross.setdefault(f"{key}_{when}", []).append(value)
        logits = numpy.concatenate([per_half[0][target][0], per_half[1][target][0]])
        gold = numpy.concatenate([per_half[0][target][1], per_half[1][target][1]])
        in_sample_t = fit_temperature(logits, gold)
        results[target] = {
            "tokens": int(len(gold)),
            "held_out": {key: float(numpy.mean(values)) for key, values in cross.items()},
            "held_out_temperatures": temperatures,
            "in_sample": {
                "temperature": in_sample_t,
                "ece_before": expected_calibration_error(softmax(logits), gold),
                "ece_after": expected_calibration_error(softmax(logits, in_sample_t), gold),
            },
        }
    return results


def speed(nlp: Any, name: str, texts: List[str], rounds: int) -> Dict[str, Any]:
    tagger = nlp.get_pipe(name)
    settings = {"off": (False, 0), "probabilities": (True, 0), "probabilities_top3": (True, 3)}
    words = sum(len(doc) for doc in nlp.tokenizer.pipe(texts))

    def words_per_second(setting: str) -> float:
        tagger.probabilities, tagger.top_k = settings[setting]
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=64):
            pass
        return words / (time.perf_counter() - start)

    for setting in settings:  # warm-up
        words_per_second(setting)
    rates: Dict[str, List[float]] = {setting: [] for setting in settings}
    for _ in range(rounds):
        for setting in settings:
            rates[setting].append(words_per_second(setting))
    tagger.probabilities, tagger.top_k = False, 0
    return {
        "words": words,
        "rounds": rounds,
        "median_words_per_second": {s: statistics.median(r) for s, r in rates.items()},
        "median_ratio_to_off": {
            s: statistics.median(a / b for a, b in zip(r, rates["off"], strict=True))
            for s, r in rates.items()
        },
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("dev", type=Path)
    parser.add_argument("--component", default=None)
    parser.add_argument("--speed-rounds", type=int, default=0)
    parser.add_argument("--speed-docs", type=int, default=0, help="time the first N dev docs (0: all)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    nlp = spacy.load(args.pipeline)
    name = find_component(nlp, args.component)
    examples = list(Corpus(args.dev)(nlp))
    start = time.perf_counter()
    report: Dict[str, Any] = {
        "pipeline": str(args.pipeline),
        "dev": str(args.dev),
        "component": name,
        "docs": len(examples),
        "machine": platform.machine(),
        "targets": calibration_results(nlp, name, examples),
        "seconds": None,
    }
    report["seconds"] = time.perf_counter() - start
    if args.speed_rounds:
        timed = examples[: args.speed_docs] if args.speed_docs else examples
        report["speed"] = speed(nlp, name, [eg.reference.text for eg in timed], args.speed_rounds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
