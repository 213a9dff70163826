"""A tagging network on a pretrained encoder: word pieces -> a learned mix of the
encoder's layers -> pieces pooled per token -> (optional cased word and character
features, optional BiLSTM) -> one linear head per target."""

from typing import Any, Dict, List, Mapping, Tuple

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own convention)
from torch import nn

from .batch import TaggerBatch, WordPieces
from .char_cnn import CharCNN
from .feature_spec import FeatureSpec
from .lexical_embedding import LexicalEmbedding
from .sequence_encoder import LSTMEncoder, float32_heads
from .transformer_settings import TransformerTaggerSettings


class TransformerTagger(nn.Module):
    """`encoder` is a Hugging Face model (called with input_ids, attention_mask and
    output_hidden_states); the rest is built here. Heads start at zero."""

    def __init__(
        self,
        features: FeatureSpec,
        n_labels: Mapping[str, int],
        encoder: nn.Module,
        settings: TransformerTaggerSettings = TransformerTaggerSettings(),  # noqa: B008 (frozen)
    ) -> None:
        super().__init__()
        if not n_labels or any(n < 1 for n in n_labels.values()):
            raise ValueError(f"TransformerTagger needs at least one label per target, got {dict(n_labels)}.")
        config: Any = encoder.config
        self.encoder = encoder
        self.settings = settings
        n_states = config.num_hidden_layers + 1 if settings.mix_layers else 1
        self.layer_weights = nn.Parameter(torch.zeros(n_states))
        self.layer_scale = nn.Parameter(torch.ones(1))  # thinc's optimizers need at least one dimension
        self.hidden_size = int(config.hidden_size)
        width = self.hidden_size
        self.lexical = None
        if settings.embed_width:
            vocab_rows = features.vocab_rows if features.vocab_attr else 0
            self.lexical = LexicalEmbedding(
                vocab_rows, features.rows, settings.embed_width, settings.word_dropout
            )
            width += self.lexical.output_width
        self.chars = None
        if settings.char_width and features.max_chars:
            self.chars = CharCNN(features.char_rows, settings.char_embed_width, settings.char_width)
            width += self.chars.output_width
        self.dropout = nn.Dropout(0.0)
        self.context = None
        if settings.lstm_width:
            self.context = LSTMEncoder(width, settings.lstm_width, settings.lstm_depth, True)
            width = self.context.output_width
        heads = {target: nn.Linear(width, n) for target, n in n_labels.items()}
        for head in heads.values():
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.heads = nn.ModuleDict(heads)
        if settings.encoder_lr_scale == 0.0:
            self.encoder.requires_grad_(False)

    def forward(self, batch: TaggerBatch) -> Dict[str, torch.Tensor]:
        if batch.wordpieces is None:
            raise ValueError("TransformerTagger reads word pieces, but the batch has none.")
        n_tokens = batch.words.shape[0]
        vectors = [self.pool(self.mixed_states(batch.wordpieces), batch.wordpieces, n_tokens)]
        if self.lexical is not None:
            vectors.append(self.lexical(batch.words, batch.lexical))
        if self.chars is not None:
            vectors.append(self.chars(batch.chars)[batch.token_types])
        hidden = self.dropout(torch.cat(vectors, dim=1))
        if self.context is not None:
            return float32_heads(self.heads, self.dropout(self.context(hidden, batch.lengths)))
        return {target: head(hidden) for target, head in self.heads.items()}

    def mixed_states(self, pieces: WordPieces) -> torch.Tensor:
        """(n_windows, window_length, hidden): the softmax-weighted sum of the
        encoder's hidden states (or its last one), scaled.

        Each window runs through the encoder padded to a length set by its own
        length alone (`padded_length`), beside windows of that same length only, so
        its vectors do not depend on the other windows of the batch: matrix kernels
        (bfloat16 above all) round differently when the padded shape changes.
        Short sentences are not padded to the longest one of the batch either."""
        weights = torch.softmax(self.layer_weights, dim=0)
        lengths = pieces.mask.sum(dim=1)
        hidden_size: int = self.hidden_size
        columns = pieces.ids.shape[1]
        mixed = pieces.ids.new_zeros((*pieces.ids.shape, hidden_size), dtype=weights.dtype)
        for group, width in length_groups(lengths, POSITIONS_PER_GROUP):
            extra = max(0, width - columns)
            # Padding positions are masked out; their ids do not matter.
            output = self.encoder(
                input_ids=F.pad(pieces.ids[group, :width], (0, extra)),
                attention_mask=F.pad(pieces.mask[group, :width], (0, extra)),
                output_hidden_states=True,
            )
            states = output.hidden_states if self.settings.mix_layers else output.hidden_states[-1:]
            group_mixed = sum(weight * state for weight, state in zip(weights, states, strict=True))
            kept = min(width, columns)
            # In place: a copy of the whole tensor per group would hold every copy during backprop.
            mixed[group.unsqueeze(1), torch.arange(kept, device=group.device)] = group_mixed[:, :kept].to(
                mixed.dtype
            )
        return self.layer_scale * mixed

    def pool(self, states: torch.Tensor, pieces: WordPieces, n_tokens: int) -> torch.Tensor:
        """One vector per token from its pieces' states: their mean, or the first."""
        flat = states.reshape(-1, states.shape[-1])
        if self.settings.pooling == "first":
            return flat[pieces.first_piece]
        owner = pieces.token_of_piece.reshape(-1)
        kept = owner >= 0
        sums = flat.new_zeros((n_tokens, flat.shape[1])).index_add_(0, owner[kept], flat[kept])
        counts = torch.bincount(owner[kept], minlength=n_tokens).clamp(min=1).unsqueeze(1)
        return sums / counts.to(sums.dtype)

    def lr_scale(self, parameter_name: str) -> float:
        """The share of the learning rate each parameter gets: lower for the encoder."""
        return self.settings.encoder_lr_scale if parameter_name.startswith("encoder.") else 1.0

    def dropout_layers(self) -> List[nn.Dropout]:
        """The dropout layers spaCy's training rate applies to: ours, not the encoder's,
        which keep the rates of the checkpoint's config."""
        return [self.dropout] + ([self.context.dropout] if self.context is not None else [])


# How many positions (windows x their padded length) one encoder call reads at most.
POSITIONS_PER_GROUP = 4096
# Windows are padded to a multiple of this many positions, and by at least one.
PADDING_MULTIPLE = 8


def padded_length(length: int) -> int:
    """The length a window of `length` positions is padded to: at least one padding
    position (so the encoder always gets a mask with padding, the same code path for
    every window), rounded up to a multiple of PADDING_MULTIPLE."""
    return -(-(length + 1) // PADDING_MULTIPLE) * PADDING_MULTIPLE


def length_groups(lengths: torch.Tensor, positions: int) -> List[Tuple[torch.Tensor, int]]:
    """Window indices in groups of one padded length (longest first, in window order
    within a length), each holding at most `positions` positions, with that length."""
    padded = [padded_length(int(length)) for length in lengths.tolist()]
    order = sorted(range(len(padded)), key=lambda window: (-padded[window], window))
    groups: List[Tuple[torch.Tensor, int]] = []
    start = 0
    while start < len(order):
        width = padded[order[start]]
        size = max(1, positions // width)
        end = start
        while end < len(order) and end - start < size and padded[order[end]] == width:
            end += 1
        groups.append((torch.tensor(order[start:end], dtype=torch.long, device=lengths.device), width))
        start = end
    return groups
