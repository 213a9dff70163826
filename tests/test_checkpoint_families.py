# mypy: disable-error-code="attr-defined"
# (spaCy types get_pipe/add_pipe as Doc -> Doc callables, not as TorchTagger.)
"""TransformerNetwork.v1 on tiny random checkpoints of each tokenizer family, built
here (never downloaded): BERT WordPiece, RoBERTa byte-level BPE, XLM-R and
DeBERTa-v2 SentencePiece-style Unigram. Each gets its tokenizer's own special
pieces, the pieces its tokenizer gives running text, windows within its real
position limit; it trains, and travels without its folder."""

import json
import pickle
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Adam, fix_random_seed

from spacy_torch_tagger.layers.checkpoint import Checkpoint
from spacy_torch_tagger.layers.known_words import KnownWords
from spacy_torch_tagger.layers.network_input import docs_to_batch, preceding_characters
from spacy_torch_tagger.layers.tagger_model import checkpoint_of, piece_windows
from spacy_torch_tagger.layers.wordpieces import PieceArrays, wordpiece_arrays
from spacy_torch_tagger.network.feature_spec import FeatureSpec
from spacy_torch_tagger.network.transformer_tagger import padded_length

from conftest import corpus_examples, pieces_of_each_token

transformers = pytest.importorskip("transformers", reason="the transformers extra is not installed")
tokenizers = pytest.importorskip("tokenizers", reason="the transformers extra is not installed")

FAMILIES = ["bert", "roberta", "xlm-roberta", "deberta-v2"]
ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def _corpus_texts() -> List[str]:
    nlp = spacy.blank("en")
    return [example.reference.text for split in ("train", "dev") for example in corpus_examples(nlp, split)]


def _save_encoder(model: Any, folder: Path) -> Path:
    torch.manual_seed(0)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


def write_tiny_roberta(folder: Path) -> Path:
    """Byte-level BPE (no prefix space, as roberta-base) with RobertaProcessing; positions
    from pad_token_id + 1, so 64 of the 66 declared are usable."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_corpus_texts(), trainer)
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
    transformers.RobertaTokenizerFast(tokenizer_object=tokenizer).save_pretrained(str(folder))
    config = transformers.RobertaConfig(
        vocab_size=tokenizer.get_vocab_size(), max_position_embeddings=66, pad_token_id=1, **ENCODER
    )
    return _save_encoder(transformers.RobertaModel(config), folder)


def _unigram(special_tokens: List[str], template: str, strip: bool) -> Any:
    """A Unigram model behind a Metaspace pre-tokenizer that prefixes "▁" to a text, as
    transformers' converters write XLM-R's and DeBERTa-v2's SentencePiece models."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tokenizer = Tokenizer(models.Unigram())
    steps = [normalizers.Strip()] if strip else []
    tokenizer.normalizer = normalizers.Sequence(
        [*steps, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=400, special_tokens=special_tokens, unk_token=special_tokens[3]
    )
    tokenizer.train_from_iterator(_corpus_texts(), trainer)
    specials = [(token, tokenizer.token_to_id(token)) for token in special_tokens if token in template]
    tokenizer.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    return tokenizer


def write_tiny_xlm_roberta(folder: Path) -> Path:
    tokenizer = _unigram(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<s> $A </s>", strip=False)
    transformers.XLMRobertaTokenizerFast(tokenizer_object=tokenizer).save_pretrained(str(folder))
    config = transformers.XLMRobertaConfig(
        vocab_size=tokenizer.get_vocab_size(), max_position_embeddings=66, pad_token_id=1, **ENCODER
    )
    return _save_encoder(transformers.XLMRobertaModel(config), folder)


def write_tiny_deberta_v2(folder: Path) -> Path:
    """DeBERTa-v3 style: relative attention only, a normalizer that strips each text."""
    tokenizer = _unigram(["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"], "[CLS] $A [SEP]", strip=True)
    transformers.DebertaV2TokenizerFast(
        tokenizer_object=tokenizer, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]"
    ).save_pretrained(str(folder))
    config = transformers.DebertaV2Config(
        vocab_size=tokenizer.get_vocab_size(),
        max_position_embeddings=64,
        pad_token_id=0,
        relative_attention=True,
        position_biased_input=False,
        pos_att_type=["p2c", "c2p"],
        position_buckets=16,
        **ENCODER,
    )
    return _save_encoder(transformers.DebertaV2Model(config), folder)


WRITERS: Dict[str, Callable[[Path], Path]] = {
    "roberta": write_tiny_roberta,
    "xlm-roberta": write_tiny_xlm_roberta,
    "deberta-v2": write_tiny_deberta_v2,
}


@pytest.fixture(scope="module")
def checkpoints(tiny_checkpoint, tmp_path_factory) -> Dict[str, Path]:
    folders = {"bert": tiny_checkpoint}
    for family, write in WRITERS.items():
        folders[family] = write(tmp_path_factory.mktemp(family.replace("-", "_")))
    return folders


@pytest.fixture(params=FAMILIES)
def family(request) -> str:
    return request.param


def _pipeline(folder: Path, seed: int = 0, **network: Any) -> Language:
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    settings = {"checkpoint": str(folder), "embed_width": 0, "char_width": 0, **network}
    network_config = {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", **settings}
    nlp.add_pipe(
        "torch_tagger",
        config={
            "targets": ["tag", "pos"],
            "model": {"features": {"vocab_rows": 300, "vocab_min_count": 1}, "network": network_config},
        },
    )
    nlp.initialize(lambda: corpus_examples(nlp))
    return nlp


def _model(nlp: Language) -> Any:
    return nlp.get_pipe("torch_tagger").model


def _arrays(checkpoint: Checkpoint, docs: List[Doc], window_length: int = 1000) -> PieceArrays:
    """The pieces of each doc as the component reads them, one sequence per doc."""
    words = [[token.text for token in doc] for doc in docs]
    before = [preceding_characters(doc) for doc in docs]
    return wordpiece_arrays(words, checkpoint.piece_tokenizer(), window_length, window_length // 2, before)


def _raw_pieces_per_token(tokenizer: Any, doc: Doc, unk: int) -> Optional[List[List[int]]]:
    """Each token's pieces from the tokenizer run on the doc's raw text (a piece over
    whitespace only goes to the next token, the unknown piece to a token without any),
    or None where a piece crosses a token boundary."""
    encoding = tokenizer.encode(doc.text, add_special_tokens=False)
    per_token: List[List[int]] = [[] for _ in doc]
    waiting: List[int] = []
    for piece, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
        tokens = {t.i for t in doc if t.idx < max(end, start + 1) and start < t.idx + len(t.text)}
        if len(tokens) > 1:
            return None
        if not tokens:
            waiting.append(piece)
            continue
        per_token[tokens.pop()].extend([*waiting, piece])
        waiting = []
    return [pieces or [unk] for pieces in per_token]


# Running text: words apart by single spaces, punctuation glued or apart.
ORDINARY_TEXTS = [
    "The dog ate the apple.",
    "Peter and Sue live in London , she said.",
    '(London) is big; "Sue" is not!',
]
# Runs of spaces and newlines, which spaCy makes whitespace tokens of.
WHITESPACE_TEXTS = [
    "She smiled at me  and the cat slept.\nPeter and Sue live in London.",
    "Peter  ran.\n\nHe slept .  It rained , twice !",
]


# The pieces before and after each window, and the padding, of each family.
FRAMES = {
    "bert": ("[CLS]", "[SEP]", "[PAD]"),
    "roberta": ("<s>", "</s>", "<pad>"),
    "xlm-roberta": ("<s>", "</s>", "<pad>"),
    "deberta-v2": ("[CLS]", "[SEP]", "[PAD]"),
}


def test_the_tokenizers_own_special_pieces_frame_every_window(checkpoints, family):
    checkpoint = Checkpoint.from_dir(checkpoints[family])
    tokenizer, pieces = checkpoint.tokenizer(), checkpoint.piece_tokenizer()
    first, last, pad = FRAMES[family]
    assert (pieces.before, pieces.after) == ([tokenizer.token_to_id(first)], [tokenizer.token_to_id(last)])
    assert pieces.pad == tokenizer.token_to_id(pad)
    docs = [spacy.blank("en").make_doc(text) for text in ORDINARY_TEXTS + WHITESPACE_TEXTS]
    arrays = _arrays(checkpoint, docs, window_length=12)
    lengths = arrays.mask.sum(axis=1)
    assert arrays.ids.shape[0] > len(docs), "long texts take several windows"
    for window, owners, length in zip(arrays.ids, arrays.token_of_piece, lengths, strict=True):
        assert (window[0], window[length - 1]) == (pieces.before[0], pieces.after[0])
        assert (owners[0], owners[length - 1]) == (-1, -1)
        assert (window[length:] == pieces.pad).all()


def test_a_template_of_several_special_pieces_frames_each_window(tiny_checkpoint, tmp_path):
    """Whatever the post-processor puts around a sequence frames the window, and the
    window keeps its length: here [CLS] [MASK] … [SEP]."""
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "three_specials")
    settings = json.loads((folder / "tokenizer.json").read_text())
    settings["post_processor"]["single"].insert(1, {"SpecialToken": {"id": "[MASK]", "type_id": 0}})
    settings["post_processor"]["special_tokens"]["[MASK]"] = {
        "id": "[MASK]",
        "ids": [4],
        "tokens": ["[MASK]"],
    }
    (folder / "tokenizer.json").write_text(json.dumps(settings))
    checkpoint = Checkpoint.from_dir(folder)
    pieces = checkpoint.piece_tokenizer()
    assert (pieces.before, pieces.after) == ([2, 4], [3])
    words = [["peter", "and", "sue", "unbelievably", "read", "a", "book"] * 3]
    arrays = wordpiece_arrays(words, pieces, 10, 3)
    assert arrays.ids.shape[1] == 10 and (arrays.ids[:, :2] == [2, 4]).all()
    assert (arrays.token_of_piece[:, :2] == -1).all()
    alone = [checkpoint.tokenizer().encode(word, add_special_tokens=False).ids for word in words[0]]
    assert pieces_of_each_token(arrays, len(words[0])) == alone
    with pytest.raises(ValueError, match=r"window_length >= 4 and 1 <= stride <= window_length - 3"):
        wordpiece_arrays(words, pieces, 10, 8)


def test_running_text_gets_the_pieces_of_the_raw_text(checkpoints, family):
    """Each token gets its own pieces, in order, and for running text they are the
    pieces the tokenizer gives the raw text (checked on every text whose raw pieces
    do not cross a token boundary, which is most of the corpus)."""
    checkpoint = Checkpoint.from_dir(checkpoints[family])
    tokenizer = checkpoint.tokenizer()
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(text) for text in _corpus_texts() + ORDINARY_TEXTS]
    compared = 0
    for doc in docs:
        owned = pieces_of_each_token(_arrays(checkpoint, [doc]), len(doc))
        assert all(owned), "every token has a piece"
        raw = _raw_pieces_per_token(tokenizer, doc, checkpoint.piece_tokenizer().unk)
        if raw is not None:
            assert owned == raw, doc.text
            compared += 1
    assert compared >= 0.8 * len(docs), f"only {compared} of {len(docs)} texts compared"
    the_dog = nlp.make_doc("The dog")
    assert (
        sum(pieces_of_each_token(_arrays(checkpoint, [the_dog]), 2), [])
        == tokenizer.encode("The dog", add_special_tokens=False).ids
    )


def test_byte_level_bpe_gets_the_raw_texts_pieces_whatever_the_whitespace(checkpoints):
    """With RoBERTa's tokenizer the pieces of all tokens in a row are those of the raw
    text, even around newlines and runs of spaces (whitespace tokens): "Ġ" after a
    space, none at the start, after a newline or on glued punctuation."""
    checkpoint = Checkpoint.from_dir(checkpoints["roberta"])
    tokenizer = checkpoint.tokenizer()
    nlp = spacy.blank("en")
    for text in ORDINARY_TEXTS + WHITESPACE_TEXTS:
        doc = nlp.make_doc(text)
        pieces = sum(pieces_of_each_token(_arrays(checkpoint, [doc]), len(doc)), [])
        assert pieces == tokenizer.encode(text, add_special_tokens=False).ids, text
    assert _marked(checkpoint, "Peter ran.\nHe  slept", "Ġ") == [False, True, False, False, True]


def _marked(checkpoint: Checkpoint, text: str, marker: str) -> List[bool]:
    """Whether the first piece of each token but the whitespace ones carries the space marker."""
    doc = spacy.blank("en").make_doc(text)
    owned = pieces_of_each_token(_arrays(checkpoint, [doc]), len(doc))
    tokenizer = checkpoint.tokenizer()
    return [
        tokenizer.id_to_token(pieces[0]).startswith(marker)
        for token, pieces in zip(doc, owned, strict=True)
        if not token.is_space
    ]


@pytest.mark.parametrize("family", ["xlm-roberta", "deberta-v2"])
def test_sentencepiece_style_words_get_the_marker_where_the_raw_text_does(checkpoints, family, tmp_path):
    """The marker "▁" at the start and after a space, not on glued punctuation; after a
    newline only where the tokenizer's normalizer makes a space of it (as XLM-R's does)."""
    checkpoint = Checkpoint.from_dir(checkpoints[family])
    text = "Peter ran.\nHe  slept"  # Peter ran . \n He ␣ slept
    assert _marked(checkpoint, text, "▁") == [True, True, False, False, True]
    folder = shutil.copytree(checkpoints[family], tmp_path / "newline_as_space")
    settings = json.loads((folder / "tokenizer.json").read_text())
    newline = {"type": "Replace", "pattern": {"String": "\n"}, "content": " "}
    settings["normalizer"]["normalizers"].insert(0, newline)
    (folder / "tokenizer.json").write_text(json.dumps(settings))
    assert _marked(Checkpoint.from_dir(folder), text, "▁") == [True, True, False, True, True]


def test_a_sentence_is_read_as_a_text_of_its_own(checkpoints):
    """The first word of a later sentence gets the pieces of a text's first word, so a
    doc with sentence boundaries gets the pieces of its sentences as separate docs."""
    checkpoint = Checkpoint.from_dir(checkpoints["roberta"])
    nlp = spacy.blank("en")
    words, spaces = ["She", "smiled", ".", "He", "slept", "."], [True, False, True, True, False, False]
    doc = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=[1, 0, 0, 1, 0, 0])
    separate = [nlp.make_doc("She smiled."), nlp.make_doc("He slept.")]
    spec = FeatureSpec()
    batches = [
        docs_to_batch(docs, spec, KnownWords.from_docs([], spec), torch.device("cpu"), (checkpoint, 16, 7))
        for docs in ([doc], separate)
    ]
    joined, apart = batches[0].wordpieces, batches[1].wordpieces
    assert joined is not None and apart is not None
    for in_doc, alone in zip(joined, apart, strict=True):
        assert torch.equal(in_doc, alone)


@pytest.mark.parametrize(
    "family, limit, overflows",
    [("bert", 64, True), ("roberta", 64, True), ("xlm-roberta", 64, True), ("deberta-v2", 64, False)],
)
def test_the_position_limit_is_the_encoders_real_one(checkpoints, family, limit, overflows):
    """RoBERTa and XLM-R declare 66 positions but number them from pad_token_id + 1:
    the encoder reads 64 and fails on 65; BERT reads its 64 declared ones, DeBERTa-v2
    (relative positions only) its 64 at least."""
    checkpoint = Checkpoint.from_dir(checkpoints[family])
    assert checkpoint.max_positions() == limit
    encoder = checkpoint.encoder().eval()
    pieces = checkpoint.piece_tokenizer()
    with torch.no_grad():
        encoder(input_ids=torch.full((1, limit), pieces.unk))
        if overflows:
            with pytest.raises((IndexError, RuntimeError)):
                encoder(input_ids=torch.full((1, limit + 1), pieces.unk))


@pytest.mark.parametrize(
    "config, limit",
    [
        ({"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ({"model_type": "xlm-roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ({"model_type": "bert", "max_position_embeddings": 512, "pad_token_id": 0}, 512),
        ({"model_type": "deberta-v2", "max_position_embeddings": 512, "pad_token_id": 0}, 512),
        ({"model_type": "unknown", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ({"model_type": "unknown", "max_position_embeddings": 8192, "pad_token_id": 50283}, 8192),
        ({"model_type": "unknown"}, 512),
    ],
)
def test_the_position_limit_of_each_model_type(config, limit):
    files = {"config.json": json.dumps(config).encode(), "tokenizer.json": b"", "special_tokens.json": b""}
    assert Checkpoint(files).max_positions() == limit


def test_a_2000_token_sentence_is_read_in_windows_within_the_limit(checkpoints, family):
    """With the default window (the longest the encoder reads once padded), every
    window stays within the real limit, every token gets pieces owned in some window,
    and the network tags all 2000 tokens."""
    nlp = _pipeline(checkpoints[family])
    model = _model(nlp)
    checkpoint = checkpoint_of(model)
    window_length, stride = piece_windows(model.attrs["network_builder"], checkpoint)
    words = (["Peter", "and", "Sue", "read", "a", "quizzical", "book", "in", "London", "."] * 200)[:2000]
    doc = Doc(nlp.vocab, words=words)
    spec = model.attrs["features"]
    batch = docs_to_batch(
        [doc], spec, model.attrs["known_words"], torch.device("cpu"), (checkpoint, window_length, stride)
    )
    assert batch.wordpieces is not None
    lengths = batch.wordpieces.mask.sum(dim=1).tolist()
    assert len(lengths) > 20 and max(lengths) == window_length
    assert all(padded_length(length) <= checkpoint.max_positions() for length in lengths)
    owners = batch.wordpieces.token_of_piece
    assert set(owners[owners >= 0].tolist()) == set(range(2000))
    scores = model.predict([doc])[0]
    assert scores.shape[0] == 2000 and numpy.isfinite(scores).all()
    tagged = nlp(" ".join(words))
    assert len(tagged) == 2000 and all(token.tag_ for token in tagged)


def test_it_trains_and_tags_the_same_without_its_checkpoint_folder(checkpoints, family, tmp_path):
    folder = shutil.copytree(checkpoints[family], tmp_path / "checkpoint")
    nlp = _pipeline(folder, window_length=16)
    examples = corpus_examples(nlp)[:16]
    optimizer = Adam(0.01)
    losses = [nlp.update(examples, sgd=optimizer)["torch_tagger"] for _ in range(20)]
    assert losses[-1] < 0.6 * losses[0], losses
    texts = [example.reference.text for example in corpus_examples(nlp, "dev")]
    before = _model(nlp).predict([nlp.make_doc(text) for text in texts])
    tags = [[token.tag_ for token in doc] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(folder)
    loaded = spacy.load(tmp_path / "pipeline")
    after = _model(loaded).predict([loaded.make_doc(text) for text in texts])
    assert all(numpy.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert [[token.tag_ for token in doc] for doc in loaded.pipe(texts)] == tags


def test_a_pipeline_saved_without_the_template_reads_words_as_it_did(checkpoints, tmp_path):
    """A pipeline saved by 0.2.0 kept only cls, sep, pad and unk: it still frames windows
    with them and encodes each word as it is (no space marker), as it was trained."""
    checkpoint = Checkpoint.from_dir(checkpoints["roberta"])
    ids = checkpoint.special_ids()
    legacy = Checkpoint({**checkpoint.files, "special_tokens.json": json.dumps(ids).encode()})
    legacy = Checkpoint.from_bytes(legacy.to_bytes())
    doc = spacy.blank("en").make_doc("The dog ate the apple.")
    arrays = _arrays(legacy, [doc])
    tokenizer = legacy.tokenizer()
    owned = pieces_of_each_token(arrays, len(doc))
    assert owned == [tokenizer.encode(t.text, add_special_tokens=False).ids for t in doc]
    assert owned != pieces_of_each_token(_arrays(checkpoint, [doc]), len(doc)), "the new reading differs"
    assert arrays.ids[0, 0] == ids["cls"] and arrays.ids[0, int(arrays.mask[0].sum()) - 1] == ids["sep"]


def test_the_piece_tokenizer_survives_pickling(checkpoints):
    """As nlp.pipe(n_process=2) needs under spawn: the same pieces after a round trip."""
    checkpoint = Checkpoint.from_dir(checkpoints["roberta"])
    doc = spacy.blank("en").make_doc("Peter ran.\nHe  slept")
    expected = _arrays(checkpoint, [doc])
    copy = pickle.loads(pickle.dumps(checkpoint))
    for array, reference in zip(_arrays(copy, [doc]), expected, strict=True):
        assert numpy.array_equal(array, reference)


@pytest.mark.parametrize(
    "name", ["roberta-base", "xlm-roberta-base", "FacebookAI/roberta-base", "distilbert"]
)
def test_a_hub_name_says_it_is_not_downloaded(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nlp = spacy.blank("en")
    network = {"@architectures": "spacy_torch_tagger.TransformerNetwork.v1", "checkpoint": name}
    nlp.add_pipe("torch_tagger", config={"model": {"network": network}})
    with pytest.raises(
        ValueError,
        match=r"hub names are not downloaded: give a local folder \(e.g. one written by save_pretrained",
    ) as error:
        nlp.initialize(lambda: corpus_examples(nlp)[:4])
    assert f"AutoModel.from_pretrained({name!r}).save_pretrained(folder)" in str(error.value)


def test_a_missing_absolute_folder_is_not_taken_for_a_hub_name(tmp_path):
    with pytest.raises(ValueError, match="does not exist") as error:
        Checkpoint.from_dir(tmp_path / "nowhere")
    assert "hub" not in str(error.value)


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_pickled_weights_are_refused_with_the_way_to_convert_them(checkpoints, family, tmp_path):
    """The message says how to write model.safetensors; done as it says, the folder reads."""
    folder = tmp_path / "pickled"
    encoder = transformers.AutoModel.from_pretrained(str(checkpoints[family]))
    encoder.save_pretrained(str(folder), safe_serialization=False)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(checkpoints[family] / name, folder / name)
    assert (folder / "pytorch_model.bin").exists() and not (folder / "model.safetensors").exists()
    with pytest.raises(
        ValueError, match=r"only \['pytorch_model.bin'\]: pickled weights are refused"
    ) as error:
        Checkpoint.from_dir(folder)
    command = (
        "transformers.AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)"
    )
    assert command in str(error.value)
    transformers.AutoModel.from_pretrained(str(folder)).save_pretrained(str(folder), safe_serialization=True)
    converted = Checkpoint.from_dir(folder).encoder()
    assert all(
        torch.equal(a, b)
        for a, b in zip(converted.state_dict().values(), encoder.state_dict().values(), strict=True)
    )


def test_a_checkpoint_in_safetensors_shards_is_read(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["roberta"], tmp_path / "sharded")
    (folder / "model.safetensors").unlink()
    encoder = transformers.AutoModel.from_pretrained(str(checkpoints["roberta"]))
    encoder.save_pretrained(str(folder), safe_serialization=True, max_shard_size="50KB")
    assert (folder / "model.safetensors.index.json").exists() and not (folder / "model.safetensors").exists()
    loaded = Checkpoint.from_dir(folder).encoder()
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), encoder.state_dict().values(), strict=True)
    )


def test_tensorflow_weights_are_refused_with_from_tf(checkpoints, tmp_path):
    folder = shutil.copytree(checkpoints["bert"], tmp_path / "tf")
    (folder / "model.safetensors").rename(folder / "tf_model.h5")
    with pytest.raises(
        ValueError, match=r"AutoModel.from_pretrained\(folder, from_tf=True\).save_pretrained"
    ):
        Checkpoint.from_dir(folder)


@pytest.mark.parametrize(
    "family, slow_files",
    [
        ("bert", ["vocab.txt"]),
        ("roberta", ["vocab.json", "merges.txt"]),
        ("xlm-roberta", ["sentencepiece.bpe.model"]),
    ],
)
def test_a_slow_tokenizer_alone_is_refused_with_the_way_to_write_tokenizer_json(
    checkpoints, family, slow_files, tmp_path
):
    folder = shutil.copytree(checkpoints[family], tmp_path / "slow")
    (folder / "tokenizer.json").unlink()
    for name in slow_files:
        if not (folder / name).exists():
            (folder / name).write_bytes(b"")  # a stand-in: the message comes before any reading
    expected = re.escape(f"has no tokenizer.json, only a slow tokenizer's {slow_files}")
    with pytest.raises(ValueError, match=expected) as error:
        Checkpoint.from_dir(folder)
    assert "`transformers.AutoTokenizer.from_pretrained(folder).save_pretrained(folder)`" in str(error.value)
    assert ("pip install sentencepiece" in str(error.value)) == (family == "xlm-roberta")
    if family != "xlm-roberta":
        # Done as the message says (the SentencePiece case needs the sentencepiece package).
        transformers.AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(folder))
        assert Checkpoint.from_dir(folder).piece_tokenizer().before
