"""`.spacy` DocBin input (as `DocBin.to_disk` and `spacy convert` write it): each Doc
is a document, tagged on its own tokens with its other annotations kept, as `spacy
apply` takes it. Its tags, POS, morphology and lemmas, and values of this package's
`torch_tagger_*` extensions, are left out before tagging, so that the records hold
the pipeline's predictions even where a component keeps what a token already has
(`overwrite = false`, the default of spaCy's taggers and of torch_tagger).

A DocBin is read whole (it has no reader of part of a file), and a shard decodes only
its own Docs. The id of a Doc is its `user_data[id_key]`: a string, number, boolean,
null, or a list or map of them, as a JSON record holds it.
"""

import json
import math
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy
import srsly
from spacy.attrs import LEMMA, MORPH, POS, TAG
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from .input_errors import BadInputError

DOCBIN_SUFFIX = ".spacy"
PREDICTED_ATTRS = (TAG, POS, MORPH, LEMMA)
OWN_EXTENSION_PREFIX = "torch_tagger_"


def is_docbin(name: str) -> bool:
    return name.lower().endswith(DOCBIN_SUFFIX)


def read_docbin(path: Path, data: bytes) -> DocBin:
    """The DocBin in a `.spacy` file's bytes; BadInputError if they are not one."""
    try:
        return DocBin(store_user_data=True).from_bytes(data)
    except Exception as error:
        raise BadInputError(
            f"{path} is not a readable .spacy DocBin ({type(error).__name__}: {error}). A .spacy "
            "input is read as DocBin.to_disk writes it (spacy convert does); rename a file of "
            "text lines so that it does not end in .spacy"
        ) from None


def doc_line_bytes(file_sha256: str, index: int) -> bytes:
    """What a DocBin's Doc `index` adds to its shard's SHA-256: the file's SHA-256 and
    the index (a Doc has no stable bytes of its own in the file)."""
    return f"{file_sha256}:{index}\n".encode("ascii")


def docbin_part(docbin: DocBin, start: int, stop: int) -> DocBin:
    """Docs [start, stop) of `docbin` as a DocBin of their own, without the columns of
    PREDICTED_ATTRS (DocBin's own fields, sliced: nothing is decoded)."""
    keep = [column for column, attr in enumerate(docbin.attrs) if attr not in PREDICTED_ATTRS]
    part = DocBin(store_user_data=True)
    part.attrs = [docbin.attrs[column] for column in keep]
    part.tokens = [tokens[:, keep] for tokens in docbin.tokens[start:stop]]
    part.spaces = docbin.spaces[start:stop]
    part.cats = docbin.cats[start:stop]
    part.flags = docbin.flags[start:stop]
    part.span_groups = docbin.span_groups[start:stop]
    part.user_data = docbin.user_data[start:stop]
    part.strings = docbin.strings
    return part


def docs_to_tag(docbin: DocBin, start: int, stop: int, path: Path, vocab: Vocab) -> Iterator[Doc]:
    """Docs [start, stop) of the DocBin read from `path`, built on `vocab` and ready to
    tag (see the module docstring); BadInputError naming the Doc that cannot be built
    from its fields."""
    docs = docbin_part(docbin, start, stop).get_docs(vocab)
    for number in range(start + 1, stop + 1):
        try:
            doc = next(docs)
        except Exception as error:
            raise BadInputError(
                f"{path}, Doc {number} cannot be read from the DocBin ({type(error).__name__}: {error}): "
                "the file is damaged; write it again with DocBin.to_disk"
            ) from None
        for key in [key for key in doc.user_data if _is_own_extension_value(key)]:
            del doc.user_data[key]
        yield doc


def json_id(value: Any, where: str) -> Any:
    """A Doc's id as a JSON record holds it (numpy scalars as Python numbers);
    BadInputError for one it cannot hold."""
    if isinstance(value, numpy.generic):
        value = value.item()
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        shown = "NaN or infinity" if isinstance(value, float) and not math.isfinite(value) else repr(value)
        raise BadInputError(
            f"{where}: its id {shown} ({type(value).__name__}) cannot be written to a JSON record; "
            "store ids as strings or numbers, or pass --id-key '' to read none"
        ) from None
    return value


def check_ids(docbin: DocBin, path: Path, id_key: Optional[str]) -> None:
    """BadInputError for the first Doc whose id JSON cannot hold (read from the stored
    user data alone, no Doc built)."""
    if id_key is None:
        return
    for index, stored in enumerate(docbin.user_data):
        if stored is not None:
            user_data = srsly.msgpack_loads(stored, use_list=False)
            if id_key in user_data:
                json_id(user_data[id_key], f"{path}, Doc {index + 1}")


def _is_own_extension_value(key: Any) -> bool:
    """Whether a user_data key holds a value of a `torch_tagger_*` extension (spaCy
    keys them ("._.", name, start, end))."""
    return (
        isinstance(key, tuple)
        and len(key) == 4
        and key[0] == "._."
        and str(key[1]).startswith(OWN_EXTENSION_PREFIX)
    )
