"""Shared fixtures: the bundled corpus, UD English-EWT (when present), the one training
loop, small pipelines (an LSTM and a tiny-BERT one trained once a session), the annotate
tests' trained pipeline and input."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import load_model_from_config
from thinc.api import Adam, Optimizer, fix_random_seed

from spacy_torch_tagger.layers.wordpieces import PieceArrays

if TYPE_CHECKING:
    from annotate_helpers import TokenRow

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
EWT_DIR = Path(
    __import__("os").environ.get("UD_EWT_DIR", REPO.parent / "shared" / "corpora" / "ud_english_ewt")
)

# The component runs torch on one thread by default (torch_threads = 1); the tests
# of bare torch modules do too, so a busy machine cannot slow the suite down
# (benchmarks/results/torch_threads.json).
torch.set_num_threads(1)

# A small network keeps unit tests fast; the architecture is the default one.
SMALL_MODEL: Dict = {
    "features": {"vocab_rows": 500, "rows": [100, 200, 50], "char_rows": 200},
    "network": {"embed_width": 16, "char_embed_width": 8, "char_width": 16, "hidden_width": 32},
}


def corpus_examples(nlp: Language, split: str = "train") -> List[Example]:
    """Examples from the bundled corpus (gold tokens, tag and pos)."""
    docs = DocBin().from_disk(CORPUS / f"{split}.spacy").get_docs(nlp.vocab)
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def update_steps(
    nlp: Language,
    examples: List[Example],
    steps: int,
    optimizer: Optional[Optimizer] = None,
    drop: float = 0.0,
) -> None:
    """Update `nlp` `steps` times, each on the next 16 of `examples` (from the start
    again at the end), with `optimizer` (Adam(0.01) when None)."""
    optimizer = optimizer or Adam(0.01)
    for step in range(steps):
        nlp.update(examples[(step * 16) % len(examples) :][:16], sgd=optimizer, drop=drop)


def train_pipeline(
    targets: List[str],
    steps: int = 30,
    config: Optional[Dict] = None,
    seed: int = 0,
    learn_rate: float = 0.01,
    drop: float = 0.1,
) -> Language:
    """A torch_tagger pipeline (model `config`, SMALL_MODEL when None) trained briefly
    on the bundled corpus."""
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("torch_tagger", config={"targets": targets, "model": config or SMALL_MODEL})
    examples = corpus_examples(nlp)
    nlp.initialize(lambda: examples)
    update_steps(nlp, examples, steps, Adam(learn_rate), drop)
    return nlp


def copy_pipeline(nlp: Language, overrides: Optional[Dict] = None) -> Language:
    """An independent copy of `nlp`, its torch_tagger settings updated by `overrides`
    (a part of the component's config)."""
    config = nlp.config.merge({"components": {"torch_tagger": overrides or {}}})
    return load_model_from_config(config).from_bytes(nlp.to_bytes())


@pytest.fixture(scope="session")
def trained_nlp() -> Language:
    """A tag + pos pipeline trained on the bundled corpus (shared, do not modify)."""
    return train_pipeline(["tag", "pos"], steps=120)


@pytest.fixture(scope="session")
def ewt_dir() -> Path:
    if not (EWT_DIR / "en_ewt-ud-train.conllu").exists():
        pytest.skip(f"UD English-EWT not found at {EWT_DIR} (set UD_EWT_DIR to its folder)")
    return EWT_DIR


@pytest.fixture
def make_examples() -> Callable[[Language, str], List[Example]]:
    return corpus_examples


TINY_WORDS = [
    "the",
    "dog",
    "cat",
    "ate",
    "apple",
    "book",
    "read",
    "she",
    "he",
    "smiled",
    "at",
    "me",
    "and",
    "slept",
    "london",
    "peter",
    "sue",
    "live",
    "in",
]


def write_tiny_checkpoint(folder: Path) -> Path:
    """A randomly initialised two-layer BERT with a small uncased WordPiece vocab
    (every ascii letter, so any word splits into pieces), in Hugging Face layout."""
    import string

    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_lowercase]
    vocab += [f"##{letter}" for letter in string.ascii_lowercase] + list(".,!?'") + TINY_WORDS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip(
        "transformers", reason="the transformers extra is not installed (pip install .[transformers])"
    )
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_bert"))


def tiny_transformer_model(checkpoint: Path, **network: Any) -> Dict[str, Any]:
    """A torch_tagger model config: TransformerNetwork.v1 on `checkpoint`, with small
    word and character features, read in windows of 16 pieces."""
    settings = {"checkpoint": str(checkpoint), "window_length": 16, "embed_width": 8, "char_width": 8}
    return {
        "features": {"vocab_rows": 300, "vocab_min_count": 1},
        "network": {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", **settings, **network},
    }


@pytest.fixture(scope="session")
def transformer_nlp(tiny_checkpoint) -> Language:
    """A tag + pos pipeline on the tiny BERT (tiny_transformer_model) trained on the
    bundled corpus (shared, do not modify)."""
    model = tiny_transformer_model(tiny_checkpoint)
    return train_pipeline(["tag", "pos"], steps=40, config=model, learn_rate=0.005, drop=0.0)


def pieces_of_each_token(arrays: PieceArrays, n_tokens: int) -> List[List[int]]:
    """The word-piece ids each token owns, in order, read back from the windows."""
    owned: List[List[int]] = [[] for _ in range(n_tokens)]
    for window, owners in zip(arrays.ids, arrays.token_of_piece, strict=True):
        for piece, owner in zip(window, owners, strict=True):
            if owner >= 0:
                owned[owner].append(int(piece))
    return owned


# The annotate tests' shared fixtures (test_annotate.py, test_annotate_interrupt.py,
# test_annotate_ray.py). annotate_helpers imports this module, so they import it when
# they run, not at the top.


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory) -> Path:
    """The pipeline of train_annotate_pipeline (tag, pos and morph), trained once a
    session (shared, do not modify)."""
    from annotate_helpers import train_annotate_pipeline

    path = tmp_path_factory.mktemp("annotate_pipeline") / "pipeline"
    train_annotate_pipeline().to_disk(path)
    return path


@pytest.fixture(scope="session")
def texts() -> List[str]:
    """The texts of the bundled corpus's training documents, in order."""
    from annotate_helpers import corpus_texts

    return corpus_texts()


@pytest.fixture(scope="session")
def expected(pipeline_dir, texts) -> Dict[str, List["TokenRow"]]:
    """Each text's token rows by the annotate pipeline's `nlp(text)`."""
    from annotate_helpers import expected_rows

    return expected_rows(pipeline_dir, texts)


@pytest.fixture(scope="session")
def jsonl_input(tmp_path_factory, texts) -> Path:
    """The texts as corpus.jsonl, id "doc-i" for line i + 1 (do not modify)."""
    from annotate_helpers import write_jsonl

    return write_jsonl(tmp_path_factory.mktemp("annotate_input") / "corpus.jsonl", texts)


@pytest.fixture(scope="session")
def annotate_code_file(tmp_path_factory) -> Path:
    """annotate_helpers.TEST_COMPONENTS as a --code file, its factories registered here."""
    from annotate_helpers import write_test_components

    return write_test_components(tmp_path_factory.mktemp("annotate_code") / "annotate_components.py")


def morph_examples(nlp: Language) -> List[Example]:
    """Three short sentences with tag, pos and morph annotation."""
    data = [
        ("She runs", ["PRP", "VBZ"], ["PRON", "VERB"], ["Case=Nom|Number=Sing", "Number=Sing|Tense=Pres"]),
        ("They ran", ["PRP", "VBD"], ["PRON", "VERB"], ["Case=Nom|Number=Plur", "Tense=Past"]),
        ("Dogs bark .", ["NNS", "VBP", "."], ["NOUN", "VERB", "PUNCT"], ["Number=Plur", "Tense=Pres", "_"]),
    ]
    return [
        Example.from_dict(nlp.make_doc(text), {"tags": tags, "pos": pos, "morphs": morphs})
        for text, tags, pos, morphs in data
    ]
