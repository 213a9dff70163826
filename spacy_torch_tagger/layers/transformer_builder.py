"""The builder behind `spacy_torch_tagger.TransformerNetwork.v1`: a
TransformerTagger on a checkpoint, and the word-piece windows it reads."""

from pathlib import Path
from typing import Dict, Tuple

import torch

from ..network import FeatureSpec
from ..network.transformer_settings import TransformerTaggerSettings
from ..network.transformer_tagger import TransformerTagger, padded_length
from .checkpoint import Checkpoint, CheckpointError, resolve_checkpoint_dir


class TransformerNetworkBuilder:
    """Called as builder(features, n_labels, checkpoint=...) once the labels are
    known. Its `checkpoint_dir` tells the model to read that checkpoint at
    initialize (and keep its config and tokenizer) and to give the network the
    word pieces of every token (contract.ReadsCheckpoint); `windows` chooses their
    windows (contract.ChoosesWindows)."""

    def __init__(
        self, checkpoint: str, settings: TransformerTaggerSettings, window_length: int, stride: int
    ) -> None:
        self.checkpoint_name = checkpoint
        self.settings = settings
        self.window_length = window_length
        self.stride = stride

    @property
    def checkpoint_dir(self) -> Path:
        return resolve_checkpoint_dir(self.checkpoint_name)

    def __call__(
        self, features: FeatureSpec, n_labels: Dict[str, int], checkpoint: Checkpoint
    ) -> torch.nn.Module:
        return TransformerTagger(features, n_labels, checkpoint.encoder(), self.settings)

    def windows(self, checkpoint: Checkpoint) -> Tuple[int, int]:
        """(window length in positions, stride in pieces) for this checkpoint: at most
        the longest window that stays within the encoder's positions once
        TransformerTagger pads it (`padded_length`)."""
        limit = checkpoint.max_positions()
        longest = next((length for length in range(limit, 0, -1) if padded_length(length) <= limit), 0)
        pieces = checkpoint.piece_tokenizer()
        frame = len(pieces.before) + len(pieces.after)
        if longest <= frame:
            raise CheckpointError(
                f"the encoder reads at most {limit} positions: too few for windows "
                f"of {frame} special pieces and at least one word piece"
            )
        length = min(self.window_length or longest, longest)
        stride = self.stride or max(1, (length - frame) // 2)
        return length, min(stride, length - frame)
