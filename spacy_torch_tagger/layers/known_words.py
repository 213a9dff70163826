"""The table of words seen in training that get their own embedding row.

Built from the training docs at initialize and saved with the model: thinc
serializes it through the `serialize_attr` / `deserialize_attr` hooks
registered here, with a checksum, so a damaged table is refused at load.
"""

import hashlib
from typing import Any, Iterable

import numpy
import srsly
from spacy.attrs import IDS
from spacy.tokens import Doc
from thinc.api import Model, deserialize_attr, serialize_attr

from ..errors import ModelFileError
from ..network import FeatureSpec

FORMAT = "spacy_torch_tagger.known_words.v1"


class KnownWordsError(ModelFileError):
    """A saved known-word table that is not ours or is damaged."""


class KnownWords:
    """Sorted uint64 keys (of the spec's `vocab_attr`) of the words with a row.
    A word's row is its position in `keys` plus one; row 0 is the unknown word."""

    def __init__(self, keys: numpy.ndarray) -> None:
        self.keys = numpy.asarray(keys, dtype="uint64")

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_docs(cls, docs: Iterable[Doc], spec: FeatureSpec) -> "KnownWords":
        """The words seen at least `vocab_min_count` times, the most frequent
        first, at most `vocab_rows - 1` of them."""
        if not spec.vocab_attr:
            return cls(numpy.zeros((0,), dtype="uint64"))
        arrays = [doc.to_array([IDS[spec.vocab_attr]]).reshape(-1) for doc in docs if len(doc)]
        if not arrays:
            return cls(numpy.zeros((0,), dtype="uint64"))
        keys, counts = numpy.unique(numpy.concatenate(arrays).astype("uint64"), return_counts=True)
        frequent = counts >= spec.vocab_min_count
        keys, counts = keys[frequent], counts[frequent]
        # Most frequent first; ties by key so the table is the same on every run.
        order = numpy.lexsort((keys, -counts))[: spec.vocab_rows - 1]
        return cls(numpy.sort(keys[order]))

    def rows(self, keys: numpy.ndarray) -> numpy.ndarray:
        """The row of each key; 0 for keys not in the table."""
        if not len(self.keys):
            return numpy.zeros(keys.shape, dtype="int64")
        position = numpy.minimum(numpy.searchsorted(self.keys, keys), len(self.keys) - 1)
        return numpy.where(self.keys[position] == keys, position + 1, 0).astype("int64")

    def to_bytes(self) -> bytes:
        data = self.keys.astype("<u8").tobytes()
        return srsly.msgpack_dumps(
            {"format": FORMAT, "keys": data, "sha256": hashlib.sha256(data).hexdigest()}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> "KnownWords":
        try:
            message: Any = srsly.msgpack_loads(data)
        except ValueError as error:
            raise KnownWordsError(f"The known-word table is not in the {FORMAT} format: {error}.") from error
        if not isinstance(message, dict) or message.get("format") != FORMAT:
            raise KnownWordsError(f"The known-word table is not in the {FORMAT} format.")
        keys, checksum = message.get("keys"), message.get("sha256")
        if not isinstance(keys, bytes) or len(keys) % 8 or hashlib.sha256(keys).hexdigest() != checksum:
            raise KnownWordsError(
                "The known-word table is damaged: its checksum does not match its contents."
            )
        return cls(numpy.frombuffer(keys, dtype="<u8").astype("uint64"))


@serialize_attr.register(KnownWords)
def _serialize_known_words(_: KnownWords, value: KnownWords, name: str, model: Model) -> bytes:
    return value.to_bytes()


@deserialize_attr.register(KnownWords)
def _deserialize_known_words(_: KnownWords, value: bytes, name: str, model: Model) -> KnownWords:
    return KnownWords.from_bytes(value)
