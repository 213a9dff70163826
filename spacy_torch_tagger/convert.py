"""Between spaCy Docs and the torch network: the network's input batch, and
its output checked and joined into one logit column block per target."""

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy
import torch
from spacy.tokens import Doc, Span

from .checkpoint import Checkpoint
from .feature_spec import FeatureSpec
from .featurize import featurize
from .known_words import KnownWords
from .network import TaggerBatch, WordPieces
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


def join_logits(logits: object, n_labels: Mapping[str, int], n_tokens: int) -> torch.Tensor:
    """The network's logits of every target side by side (in `n_labels` order),
    as float32, after checking them against the output contract."""
    check_network_output(logits, n_labels, n_tokens)
    outputs: Dict[str, torch.Tensor] = logits  # type: ignore[assignment]  # checked above
    return torch.cat([outputs[target] for target in n_labels], dim=1).float()


def check_network_output(logits: object, n_labels: Mapping[str, int], n_tokens: int) -> None:
    """Raise a clear error when a network breaks the output contract: a dict
    with one floating-point tensor of shape (n_tokens, n_labels[target]) per target."""
    expected = ", ".join(f"'{target}': ({n_tokens}, {n})" for target, n in n_labels.items())
    contract = f"The tagging network must return a dict of logits {{{expected}}} (float tensors)"
    if not isinstance(logits, dict):
        raise ValueError(f"{contract}, but returned a {type(logits).__name__}.")
    missing = [target for target in n_labels if target not in logits]
    unexpected = [key for key in logits if key not in n_labels]
    if missing or unexpected:
        raise ValueError(f"{contract}, but its keys miss {missing} and add {unexpected}.")
    for target, n in n_labels.items():
        value = logits[target]
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{contract}, but '{target}' is a {type(value).__name__}.")
        if not value.is_floating_point():
            raise ValueError(
                f"{contract}, but '{target}' has dtype {value.dtype}: return unnormalized float logits."
            )
        if tuple(value.shape) != (n_tokens, n):
            raise ValueError(
                f"{contract}, but '{target}' has shape {tuple(value.shape)}: one row per token "
                f"of the batch ({n_tokens}) and one column per label ({n})."
            )
