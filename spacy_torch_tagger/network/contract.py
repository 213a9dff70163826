"""What a network of your own, and its builder, may offer besides the required call.

Required: an architecture returns a builder, called as `builder(features, n_labels)`
once the labels are known (with `checkpoint=` for a builder that reads a checkpoint),
which returns a torch.nn.Module whose `forward(TaggerBatch)` returns {target: logits}.
Optional, each checked with `isinstance` against a protocol here:

- the network: ScalesLearningRates, NamesDropoutLayers, MakesInt8Copy;
- the builder: ReadsCheckpoint, ChoosesWindows.

The protocols are typing_extensions' runtime-checkable ones, which look attributes up
statically on every Python version (as Python 3.12's typing does): the check never
evaluates a property, such as a builder's `checkpoint_dir` that resolves a package.
"""

from pathlib import Path
from typing import Any, Callable, Iterable, Tuple

from torch import nn
from typing_extensions import Protocol, runtime_checkable

# Called as builder(features, n_labels), or with checkpoint= when it reads a checkpoint.
NetworkBuilder = Callable[..., nn.Module]


@runtime_checkable
class ScalesLearningRates(Protocol):
    """A network that trains some parameters at a share of the learning rate (the
    optimizer's rate for all of them otherwise)."""

    def lr_scale(self, parameter_name: str) -> float:
        """The share of the learning rate of a parameter, named as in `named_parameters()`."""
        ...


@runtime_checkable
class NamesDropoutLayers(Protocol):
    """A network that names the layers spaCy's dropout rate is set on (every
    torch.nn.Dropout of the network otherwise)."""

    def dropout_layers(self) -> Iterable[nn.Module]:
        """The layers whose rate follows `[training] dropout`; only torch.nn.Dropout ones are set."""
        ...


@runtime_checkable
class MakesInt8Copy(Protocol):
    """A network that makes its own copy for `int8_inference` (a generic int8 copy otherwise)."""

    def int8_copy(self) -> nn.Module:
        """An eval-mode copy that tags on CPU; the network itself is left untouched."""
        ...


@runtime_checkable
class ReadsCheckpoint(Protocol):
    """A builder that starts from a pretrained checkpoint: the model reads this folder
    at initialize, keeps its config and tokenizer in the pipeline, calls the builder
    with `checkpoint=` (a Checkpoint) and gives every batch the tokens' word pieces."""

    checkpoint_dir: Path


@runtime_checkable
class ChoosesWindows(Protocol):
    """A checkpoint-reading builder that chooses the word-piece windows (by default the
    encoder's longest window, half of it apart)."""

    def windows(self, checkpoint: Any) -> Tuple[int, int]:
        """(window length in positions, stride in pieces) for a Checkpoint."""
        ...
