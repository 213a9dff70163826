"""A pretrained encoder checkpoint (Hugging Face layout) and the files a
pipeline keeps of it.

At `initialize` a checkpoint is read from its directory: config.json, the
fast tokenizer (tokenizer.json) and its special tokens, and the weights, from
`model.safetensors` only. The pipeline saves the small files with the model
(`to_bytes`, with a checksum) and its own fine-tuned weights in its own
format, so `spacy.load` needs neither the directory nor the package that
shipped it. Needs the `transformers` extra: `pip install spacy-torch-tagger[transformers]`.
"""

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import srsly
from thinc.api import Model, deserialize_attr, serialize_attr

from .errors import ModelFileError

FORMAT = "spacy_torch_tagger.checkpoint.v1"
EXTRA = "pip install spacy-torch-tagger[transformers]"
KEPT_FILES = ("config.json", "tokenizer.json", "special_tokens.json")
# Kept too when the folder has them: the model card and license texts, whose terms
# travel with the fine-tuned weights.
UNKNOWN_LICENSE = "unknown: the checkpoint has no model card or license file"
PROVENANCE_FILES = ("README.md", "LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE")
SPECIAL_TOKENS = ("cls", "sep", "pad", "unk")


class CheckpointError(ModelFileError):
    """A checkpoint directory or saved checkpoint files that cannot be used."""


def extra_requirements() -> List[str]:
    """The requirements of the `transformers` extra, as installed (from setup.cfg)."""
    try:
        declared = importlib.metadata.requires("spacy-torch-tagger") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = 'extra == "transformers"'
    return [requirement.split(";")[0].strip() for requirement in declared if marker in requirement]


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
    `weights` is the safetensors file when read from a directory, None when
    restored from a saved pipeline (whose own weights replace it)."""

    def __init__(self, files: Dict[str, bytes], weights: Optional[Path] = None) -> None:
        missing = [name for name in KEPT_FILES if name not in files]
        if missing:
            raise CheckpointError(f"the checkpoint files lack {missing}")
        self.files = files
        self.weights = weights
        self._tokenizer: Any = None

    @classmethod
    def from_dir(cls, path: Union[str, Path]) -> "Checkpoint":
        """Read a checkpoint directory; refuse one whose weights are only a pickle."""
        directory = Path(path)
        if not directory.is_dir():
            raise CheckpointError(
                f"the checkpoint directory {directory} does not exist: give the folder that holds "
                "config.json, tokenizer.json and model.safetensors"
            )
        weights = directory / "model.safetensors"
        if not weights.exists():
            pickled = [name for name in ("pytorch_model.bin", "tf_model.h5") if (directory / name).exists()]
            raise CheckpointError(
                f"{directory} has no model.safetensors"
                + (
                    f", only {pickled}: pickled weights are refused because unpickling can run code. "
                    "Convert them to safetensors where you trust their source."
                    if pickled
                    else ""
                )
            )
        for name in ("config.json", "tokenizer.json"):
            if not (directory / name).exists():
                raise CheckpointError(f"{directory} has no {name}: a fast tokenizer and a config are needed")
        transformers = require_transformers()
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        special = {name: getattr(tokenizer, f"{name}_token_id") for name in SPECIAL_TOKENS}
        if any(value is None for value in special.values()):
            raise CheckpointError(f"the tokenizer in {directory} lacks special tokens: {special}")
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
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(self.files["tokenizer.json"].decode("utf8"))
            # Checkpoints often ship padding and truncation settings; a truncated
            # sentence would silently lose the pieces of its last tokens.
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer = tokenizer
        return self._tokenizer

    def special_ids(self) -> Dict[str, int]:
        """The ids of the [CLS], [SEP], padding and unknown pieces."""
        ids = json.loads(self.files["special_tokens.json"])
        if not isinstance(ids, dict) or not all(isinstance(ids.get(name), int) for name in SPECIAL_TOKENS):
            raise CheckpointError(f"special_tokens.json must give an integer id for each of {SPECIAL_TOKENS}")
        return {name: int(value) for name, value in ids.items()}

    def check_files(self) -> None:
        """Raise CheckpointError, naming the file, unless the kept config, tokenizer
        and special token ids can all be used (the tokenizer is built and kept)."""
        for name, use in (
            ("config.json", self.config),
            ("tokenizer.json", self.tokenizer),
            ("special_tokens.json", self.special_ids),
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
        """The longest piece sequence the encoder reads, special tokens included."""
        return int(json.loads(self.files["config.json"]).get("max_position_embeddings", 512))

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


def _checksum(files: Dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf8") + b"\0" + files[name])
    return digest.hexdigest()


@serialize_attr.register(Checkpoint)
def _serialize_checkpoint(_: Checkpoint, value: Checkpoint, name: str, model: Model) -> bytes:
    return value.to_bytes()


@deserialize_attr.register(Checkpoint)
def _deserialize_checkpoint(_: Checkpoint, value: bytes, name: str, model: Model) -> Checkpoint:
    return Checkpoint.from_bytes(value)
