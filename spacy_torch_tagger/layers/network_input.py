"""The network's input: a batch of Docs as one TaggerBatch of tensors (featurized,
with the word pieces of a network that reads a checkpoint)."""

from typing import List, Optional, Sequence, Tuple, Union

import numpy
import torch
from spacy.tokens import Doc, Span

from ..network import FeatureSpec, TaggerBatch, WordPieces
from .checkpoint import Checkpoint
from .featurize import featurize
from .known_words import KnownWords
from .wordpieces import wordpiece_arrays

# A checkpoint with its window length (positions) and stride (pieces).
PieceSource = Tuple[Checkpoint, int, int]


def docs_to_batch(
    docs: Sequence[Doc],
    features: FeatureSpec,
    known_words: KnownWords,
    device: torch.device,
    pieces: Optional[PieceSource] = None,
) -> TaggerBatch:
    """Featurize docs (numpy), add the word pieces when the network reads a
    checkpoint, and move the arrays to the network's device. Nothing asks for
    gradients: the inputs are integer ids."""
    arrays = featurize(docs, features, known_words)
    wordpieces = None
    if pieces is not None:
        checkpoint, window_length, stride = pieces
        spans = sequences(docs)
        texts = [[token.text for token in span] for span in spans]
        tokenizer = checkpoint.piece_tokenizer()
        # Only a tokenizer that marks spaces asks what comes before each word.
        preceding = [preceding_characters(span) for span in spans] if tokenizer.mark_spaces else None
        piece_arrays = wordpiece_arrays(texts, tokenizer, window_length, stride, preceding)
        wordpieces = WordPieces(*(torch.from_numpy(array).to(device) for array in piece_arrays))
    return TaggerBatch(
        lengths=torch.from_numpy(sequence_lengths(docs)),
        words=torch.from_numpy(arrays.words).to(device),
        lexical=torch.from_numpy(arrays.lexical).to(device),
        chars=torch.from_numpy(arrays.chars).to(device),
        token_types=torch.from_numpy(arrays.token_types).to(device),
        wordpieces=wordpieces,
    )


def sequences(docs: Sequence[Doc]) -> List[Union[Doc, Span]]:
    """The spans the network reads on its own, in token order: each sentence of a
    doc with sentence boundaries, else the whole non-empty doc."""
    spans: List[Union[Doc, Span]] = []
    for doc in docs:
        if len(doc) and doc.has_annotation("SENT_START"):
            spans.extend(doc.sents)
        elif len(doc):
            spans.append(doc)
    return spans


def preceding_characters(span: Union[Doc, Span]) -> List[str]:
    """The character before each token in its doc, "" for the span's first: a sequence
    is read as a text of its own, whatever comes before it."""
    return ["", *((previous.whitespace_ or previous.text)[-1] for previous in span[:-1])]


def sequence_lengths(docs: Sequence[Doc]) -> numpy.ndarray:
    """Token counts of the sequences the network reads, in token order: each
    sentence of a doc with sentence boundaries (from a sentencizer, senter or
    parser), else the whole doc. Empty docs give no sequence."""
    return numpy.array([len(span) for span in sequences(docs)], dtype="int64")
