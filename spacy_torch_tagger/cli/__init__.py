"""The command line: `python -m spacy torch-tagger annotate|calibrate|report`, one
module per command, each a typer command of the `torch-tagger` group (group.py).
`python -m spacy_torch_tagger COMMAND` runs the same group."""

from . import annotate, calibrate, report  # noqa: F401  (each registers its command)
from .group import torch_tagger_cli

__all__ = ["torch_tagger_cli"]
