"""The label count of each target, as the thinc model keeps it.

thinc saves the model attr "n_labels" as msgpack, a map of target to count (as
every earlier version did); the deserializer registered here refuses anything
else with a ModelFileError, so a damaged count is named on every load path.
"""

from typing import Any, Dict

import srsly
from thinc.api import Model, deserialize_attr, serialize_attr

from ...errors import ModelFileError


class LabelCounts(Dict[str, int]):
    """target -> number of labels (each at least 1)."""


def is_label_counts(value: Any) -> bool:
    """Whether the value maps target names to positive integer counts."""
    return isinstance(value, dict) and all(
        isinstance(target, str) and type(n) is int and n > 0 for target, n in value.items()
    )


def read_label_counts(data: bytes) -> LabelCounts:
    """Label counts saved as msgpack; ModelFileError for anything else."""
    try:
        counts = srsly.msgpack_loads(data)
    except ValueError as error:
        raise ModelFileError(f"its label counts are damaged ({error})") from error
    if not is_label_counts(counts):
        raise ModelFileError(f"its label counts are damaged (found {counts!r})")
    return LabelCounts(counts)


@serialize_attr.register(LabelCounts)
def _serialize_label_counts(_: LabelCounts, value: LabelCounts, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps(dict(value))


@deserialize_attr.register(LabelCounts)
def _deserialize_label_counts(_: LabelCounts, value: bytes, name: str, model: Model) -> LabelCounts:
    return read_label_counts(value)
