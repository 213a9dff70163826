"""Subcommands of `python -m spacy_torch_tagger`: one module each, listed in COMMANDS.

A command module defines `NAME` (the subcommand), `HELP` (one line),
`add_arguments(parser)` and `run(args) -> int` (the exit status).
"""

from importlib import import_module
from types import ModuleType
from typing import Dict

# Subcommand name -> module inside this package.
COMMANDS: Dict[str, str] = {
    "annotate": "annotate",
    "calibrate": "calibrate",
    "report": "report",
}


def load_command(name: str) -> ModuleType:
    """The module of subcommand `name`."""
    return import_module(f"{__name__}.{COMMANDS[name]}")
