import ast
from pathlib import Path

import torch

from spacy_torch_tagger.feature_spec import FeatureSpec
from spacy_torch_tagger.network import LSTMTagger, TaggerBatch

SPEC = FeatureSpec(
    vocab_attr="NORM",
    vocab_rows=20,
    vocab_min_count=1,
    attrs=("SUFFIX",),
    rows=(30,),
    n_hashes=2,
    max_chars=6,
    char_rows=40,
)


def _batch(lengths):
    n = sum(lengths)
    return TaggerBatch(
        lengths=torch.tensor(lengths),
        words=torch.randint(0, 20, (n,)),
        lexical=torch.randint(0, 30, (n, 1, 2)),
        chars=torch.randint(0, 40, (n, 6)),
        token_types=torch.arange(n),
    )


def test_one_head_per_target_with_logits_per_token():
    net = LSTMTagger(SPEC, {"tag": 7, "pos": 3}, embed_width=4, char_width=4, hidden_width=5)
    out = net(_batch([3, 2]))
    assert set(out) == {"tag", "pos"}
    assert out["tag"].shape == (5, 7) and out["pos"].shape == (5, 3)


def test_untrained_heads_give_uniform_probabilities():
    net = LSTMTagger(SPEC, {"tag": 4}, embed_width=4, char_width=4, hidden_width=5)
    probs = torch.softmax(net(_batch([4]))["tag"], dim=1)
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
    net = LSTMTagger(spec, {"tag": 3}, embed_width=6, hidden_width=6, bidirectional=False, char_width=0)
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
    net = LSTMTagger(SPEC, {"tag": 3}, embed_width=8, char_width=8, hidden_width=8)
    batch = _batch([5, 4])
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
    for path in list((package / "network").glob("*.py")) + [package / "feature_spec.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(name.split(".")[0] in {"spacy", "thinc"} for name in names), (path, names)
