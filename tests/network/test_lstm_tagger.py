import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_inputs import SPEC, random_batch

from spacy_torch_tagger.network import LSTMTagger, LSTMTaggerSettings, TaggerBatch
from spacy_torch_tagger.network.feature_spec import FeatureSpec


def test_one_head_per_target_with_logits_per_token():
    net = LSTMTagger(
        SPEC, {"tag": 7, "pos": 3}, LSTMTaggerSettings(embed_width=4, char_width=4, hidden_width=5)
    )
    out = net(random_batch([3, 2]))
    assert set(out) == {"tag", "pos"}
    assert out["tag"].shape == (5, 7) and out["pos"].shape == (5, 3)


def test_untrained_heads_give_uniform_probabilities():
    net = LSTMTagger(SPEC, {"tag": 4}, LSTMTaggerSettings(embed_width=4, char_width=4, hidden_width=5))
    probs = torch.softmax(net(random_batch([4]))["tag"], dim=1)
    assert torch.allclose(probs, torch.full((4, 4), 0.25))


def test_tutorial_network_has_no_characters_and_one_direction():
    spec = FeatureSpec(
        vocab_attr="ORTH",
        vocab_rows=50,
        vocab_min_count=1,
        attrs=(),
        rows=(),
        n_hashes=1,
        max_chars=0,
        char_rows=0,
    )
    net = LSTMTagger(
        spec, {"tag": 3}, LSTMTaggerSettings(embed_width=6, hidden_width=6, bidirectional=False, char_width=0)
    )
    assert net.chars is None and net.encoder.output_width == 6
    batch = TaggerBatch(
        torch.tensor([4]),
        torch.tensor([1, 2, 3, 4]),
        torch.zeros((4, 0, 1), dtype=torch.long),
        torch.zeros((1, 0), dtype=torch.long),
        torch.zeros(4, dtype=torch.long),
    )
    assert net(batch)["tag"].shape == (4, 3)


def test_a_step_of_training_lowers_the_loss():
    torch.manual_seed(0)
    net = LSTMTagger(SPEC, {"tag": 3}, LSTMTaggerSettings(embed_width=8, char_width=8, hidden_width=8))
    batch = random_batch([5, 4])
    gold = torch.randint(0, 3, (9,))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.cross_entropy(net(batch)["tag"], gold)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


def test_torch_modules_import_neither_spacy_nor_thinc():
    package = Path(__file__).resolve().parents[2] / "spacy_torch_tagger"
    for path in (package / "network").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(name.split(".")[0] in {"spacy", "thinc"} for name in names), (path, names)


RUN_WITHOUT_SPACY = """
import sys
import torch
import spacy_torch_tagger
from spacy_torch_tagger.network.feature_spec import FeatureSpec
from spacy_torch_tagger.network import LSTMTagger, LSTMTaggerSettings, TaggerBatch
from spacy_torch_tagger.network.int8 import int8_copy

spec = FeatureSpec(vocab_rows=20, attrs=("SUFFIX",), rows=(30,), max_chars=6, char_rows=40)
net = LSTMTagger(spec, {"tag": 3}, LSTMTaggerSettings(embed_width=4, char_width=4, hidden_width=5))
batch = TaggerBatch(
    lengths=torch.tensor([2, 1]),
    words=torch.tensor([1, 2, 0]),
    lexical=torch.zeros((3, 1, 2), dtype=torch.long),
    chars=torch.ones((3, 6), dtype=torch.long),
    token_types=torch.arange(3),
)
assert net(batch)["tag"].shape == (3, 3)
assert int8_copy(net)(batch)["tag"].shape == (3, 3)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"spacy", "thinc"})
print("loaded:", loaded)
"""


def test_the_network_package_runs_without_spacy_or_thinc():
    """The torch networks import, build, run and quantize with neither spaCy nor thinc loaded."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_SPACY], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: []" in result.stdout


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("hidden_width", "64", r"hidden_width must be an integer >= 1, got '64' \(str\)"),
        ("hidden_width", -5, r"hidden_width must be an integer >= 1, got -5"),
        ("char_width", -3, r"char_width must be an integer >= 0, got -3"),
        ("depth", True, r"depth must be an integer >= 1, got True \(bool\)"),
        ("char_kernel_size", 4, r"char_kernel_size must be an odd integer"),
        ("bidirectional", "yes", r"bidirectional must be true or false"),
        ("word_dropout", 1.0, r"word_dropout must be a number in \[0.0, 1.0\)"),
        ("embed_width", 0.5, r"embed_width must be an integer >= 1, got 0.5 \(float\)"),
    ],
)
def test_bad_network_settings_name_the_key_and_the_allowed_values(key, value, message):
    with pytest.raises(ValueError, match=rf"LSTMNetwork {message}"):
        LSTMTaggerSettings(**{key: value})
