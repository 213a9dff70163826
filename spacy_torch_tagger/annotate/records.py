"""A tagged Doc as an output record: a JSON line, or a Doc for a DocBin shard.

A JSON record is `{"id": ..., "file": ..., "line": ..., "text": ..., "tokens": [...]}`
(`id` only when the input line had one), each token `{"text", "tag", "pos", "morph",
"ws"}` plus `probs` / `top_k` when the pipeline sets `token._.torch_tagger_probs` /
`token._.torch_tagger_top_k` (see probabilities.py) and the token has a value.
A DocBin doc keeps the same source fields in `doc.user_data` ("file", "line", "id").
"""

import json
from typing import Any, Dict, List

from spacy.tokens import Doc, Token

from .reading import Document

OPTIONAL_TOKEN_FIELDS = (("probs", "torch_tagger_probs"), ("top_k", "torch_tagger_top_k"))


def source_fields(document: Document) -> Dict[str, Any]:
    """Where a document came from: its id (when it had one), file and line."""
    fields: Dict[str, Any] = {"id": document.id} if document.has_id else {}
    fields["file"] = document.file
    fields["line"] = document.line
    return fields


def token_record(token: Token) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "text": token.text,
        "tag": token.tag_,
        "pos": token.pos_,
        "morph": str(token.morph),
        "ws": token.whitespace_,
    }
    for key, extension in OPTIONAL_TOKEN_FIELDS:
        if Token.has_extension(extension):
            value = token._.get(extension)
            if value is not None:
                record[key] = value
    return record


def doc_record(doc: Doc, source: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON record of a tagged doc, after its source fields."""
    tokens: List[Dict[str, Any]] = [token_record(token) for token in doc]
    return {**source, "text": doc.text, "tokens": tokens}


def json_line(doc: Doc, source: Dict[str, Any]) -> str:
    """The record as one line of JSON (non-ASCII characters kept), without the newline."""
    return json.dumps(doc_record(doc, source), ensure_ascii=False)


def with_source(doc: Doc, source: Dict[str, Any]) -> Doc:
    """The doc with its source fields in `doc.user_data`, for a DocBin shard."""
    doc.user_data.update(source)
    return doc
