"""Run spaCy's own tagger tests against a factory over many random seeds.

spaCy ships `spacy/tests/pipeline/test_tagger.py` inside the installed package.
This script copies it to a temporary folder, swaps the factory name ("tagger"
-> FACTORY), and runs it once per seed in one pytest process: a conftest beside
it seeds thinc, numpy and torch (`fix_random_seed`) before every test. A seed
passes when every test passes with it. spaCy's tests themselves never fix a
seed, so the share of passing seeds is how often a user's run would pass.

    python benchmarks/spacy_tagger_suite_seeds.py --seeds 40 \
        --output benchmarks/results/spacy_tagger_suite_seeds.json
    python benchmarks/spacy_tagger_suite_seeds.py --seeds 40 --factory tagger   # spaCy's own tagger
    python benchmarks/spacy_tagger_suite_seeds.py --seed 23 --seed 26             # chosen seeds
    python benchmarks/spacy_tagger_suite_seeds.py --seeds 5 --checkpoint DIR      # TransformerNetwork on DIR

With --checkpoint, the conftest registers a factory "transformer_torch_tagger":
torch_tagger whose network is TransformerNetwork.v1 on that checkpoint, with
the cased word and character features beside it and a BiLSTM of 256 on top,
and the suite uses it. (spaCy's tests ask for a loss below 1e-5 after 50 Adam
steps at 0.001; linear heads on a tiny random encoder alone do not get there.)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import spacy

TAGGER_TESTS = Path(spacy.__file__).parent / "tests" / "pipeline" / "test_tagger.py"

SEEDING_CONFTEST = """
import os

import pytest
from thinc.api import fix_random_seed

SEEDS = [int(seed) for seed in os.environ["SUITE_SEEDS"].split(",")]


@pytest.fixture(autouse=True, params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def random_seed(request):
    fix_random_seed(request.param)
    return request.param
"""

TRANSFORMER_FACTORY = """
import copy
import spacy
from spacy.language import Language
from spacy_torch_tagger.pipeline.factory import make_torch_tagger

_config = copy.deepcopy(spacy.blank("en").get_factory_meta("torch_tagger").default_config)
_config["model"]["network"] = {
    "@architectures": "spacy_torch_tagger.TransformerNetwork.v1",
    "checkpoint": os.environ["SUITE_CHECKPOINT"],
    "embed_width": 64,
    "char_width": 64,
    "lstm_width": 256,
}
Language.factory("transformer_torch_tagger", default_config=_config)(make_torch_tagger)
"""


def swapped_suite(factory: str) -> str:
    """spaCy's tagger tests with `factory` in place of "tagger"."""
    source = TAGGER_TESTS.read_text(encoding="utf8")
    n_tests = len(re.findall(r"^def test_", source, flags=re.MULTILINE))
    swapped = source.replace('"tagger"', f'"{factory}"').replace(
        "from ..util import", "from spacy.tests.util import"
    )
    if factory != "tagger" and ('"tagger"' in swapped or swapped.count(f'"{factory}"') < n_tests):
        raise RuntimeError(f"Swapping the factory in {TAGGER_TESTS} failed: spaCy's test module changed.")
    return swapped


def run_suite(
    factory: str, seeds: Sequence[int], checkpoint: Optional[Path] = None, timeout: float = 3600
) -> Dict[str, Any]:
    """Outcome of every test with every seed; which seeds passed everything."""
    if checkpoint is not None:
        factory = "transformer_torch_tagger"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_swapped_tagger.py").write_text(swapped_suite(factory), encoding="utf8")
        conftest = SEEDING_CONFTEST + (TRANSFORMER_FACTORY if checkpoint is not None else "")
        (folder / "conftest.py").write_text(conftest, encoding="utf8")
        report = folder / "report.xml"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"--junitxml={report}",
                "test_swapped_tagger.py",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={
                **os.environ,
                "SUITE_SEEDS": ",".join(str(seed) for seed in seeds),
                "SUITE_CHECKPOINT": str(checkpoint or ""),
            },
        )
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report:\n{result.stdout}\n{result.stderr}")
        outcomes = _outcomes(report)
    failures: Dict[int, List[str]] = defaultdict(list)
    tests = sorted({name for name, _ in outcomes})
    for (name, seed), outcome in outcomes.items():
        if outcome != "passed":
            failures[seed].append(f"{name}: {outcome}")
    missing = [seed for seed in seeds if not any(key[1] == seed for key in outcomes)]
    if missing:
        raise RuntimeError(f"No results for seeds {missing}:\n{result.stdout[-3000:]}")
    passed = [seed for seed in seeds if seed not in failures]
    return {
        "factory": factory,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "spacy": spacy.__version__,
        "tests": tests,
        "seeds": list(seeds),
        "seeds_passed": len(passed),
        "failures": {str(seed): failures[seed] for seed in seeds if seed in failures},
    }


def _outcomes(report: Path) -> Dict[tuple, str]:
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        match = re.fullmatch(r"(\w+)\[seed(\d+)\]", case.get("name", ""))
        if not match:
            continue
        kinds = {child.tag for child in case}
        outcome = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        outcomes[(match.group(1), int(match.group(2)))] = outcome
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40, help="run seeds 0 .. N-1")
    parser.add_argument("--seed", type=int, action="append", help="run these seeds instead (repeatable)")
    parser.add_argument("--factory", default="torch_tagger")
    parser.add_argument(
        "--checkpoint", type=Path, help="run torch_tagger with TransformerNetwork on this checkpoint"
    )
    parser.add_argument("--output", type=Path, help="write the outcome as JSON here")
    args = parser.parse_args()
    seeds = args.seed or list(range(args.seeds))
    outcome = run_suite(args.factory, seeds, args.checkpoint)
    for seed, reasons in outcome["failures"].items():
        print(f"seed {seed}: {'; '.join(reasons)}")
    passed = outcome["seeds_passed"]
    print(f"{outcome['factory']} passed spaCy's tagger suite for {passed} of {len(seeds)} seeds")
    if args.output:
        args.output.write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
