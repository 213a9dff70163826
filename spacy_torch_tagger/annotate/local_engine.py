"""The local engine: `nlp.pipe` over the documents of the pending shards (each read
from its byte offset, or a DocBin's Docs on the pipeline's vocab), with `n_process`
worker processes; the records come back in input order and go into the ShardSink.

nlp.pipe's worker processes start with SIGINT blocked, so a Ctrl-C (sent to the
whole process group by a terminal) interrupts this process only: the run stops
with KeyboardInterrupt, the shard being written is dropped, and the workers end
after their current batch, without a traceback each. Forked workers have the
--code module this process imported; workers started by spawn or forkserver import
it when they unpickle the pipeline (user_code.importable_by_workers).
"""

import signal
from dataclasses import replace
from typing import Any, Generator, Iterable, Iterator, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .progress import Progress
from .reading import Document
from .records import json_line, source_fields, with_source
from .shards import ShardSink
from .user_code import importable_by_workers


def annotate_local(
    nlp: Language,
    documents: Iterable[Document],
    sink: ShardSink,
    progress: Progress,
    n_process: int = 1,
    batch_size: int = 256,
    code: Optional[str] = None,
) -> None:
    """Tag `documents` (those of the pending shards, in order) into `sink`; on an
    error or an interrupt the shard being written is dropped."""
    with importable_by_workers(code if n_process > 1 else None):
        tagged = _tag(nlp, documents, n_process, batch_size)
        try:
            for doc, document in tagged:
                source = source_fields(document)
                if sink.plan.format == "jsonl":
                    sink.add(document.position, json_line(doc, source))
                else:
                    sink.add(document.position, with_source(doc, source))
                progress.update(1, len(doc))
        except BaseException:
            sink.abort()
            raise
        finally:
            tagged.close()  # stops nlp.pipe's workers now, not when the generator is collected


def _tag(
    nlp: Language, documents: Iterable[Document], n_process: int, batch_size: int
) -> Generator[Tuple[Doc, Document], None, None]:
    pairs = ((document.doc_like, replace(document, doc=None)) for document in documents)
    tagged: Iterator[Tuple[Doc, Any]] = nlp.pipe(
        pairs, as_tuples=True, n_process=n_process, batch_size=batch_size
    )
    if n_process > 1:
        first = _next_with_sigint_blocked(tagged)
        if first is None:
            return
        yield first
    yield from tagged


def _next_with_sigint_blocked(tagged: Iterator[Tuple[Doc, Any]]) -> Optional[Tuple[Doc, Any]]:
    """The first item of nlp.pipe's output, taken with SIGINT blocked in this thread:
    nlp.pipe starts its worker processes then, and they inherit the blocked signal. A
    SIGINT that arrives meanwhile is delivered when the mask is restored."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return next(tagged, None)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
