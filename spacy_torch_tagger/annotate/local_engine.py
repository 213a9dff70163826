"""The local engine: `nlp.pipe` over the pending documents on this machine, with
`n_process` worker processes; records come back in input order."""

from typing import Iterable

from spacy.language import Language

from .progress import Progress
from .reading import Document
from .records import json_line, source_fields, with_source
from .shards import ShardSink


def annotate_local(
    nlp: Language,
    documents: Iterable[Document],
    sink: ShardSink,
    progress: Progress,
    n_process: int = 1,
    batch_size: int = 256,
) -> None:
    """Tag `documents` (those of the pending shards, in order) into `sink`."""
    pairs = ((document.text, document) for document in documents)
    for doc, document in nlp.pipe(pairs, as_tuples=True, n_process=n_process, batch_size=batch_size):
        source = source_fields(document)
        if sink.plan.format == "jsonl":
            sink.add(document.position, json_line(doc, source))
        else:
            sink.add(document.position, with_source(doc, source))
        progress.update(1, len(doc))
