"""`python -m spacy_torch_tagger COMMAND ...`: the `torch-tagger` commands of spaCy's
command line (`python -m spacy torch-tagger COMMAND ...`), under a shorter name."""

import sys
from typing import List, Optional

from typer.main import get_command

from .cli import torch_tagger_cli

PROG_NAME = "python -m spacy_torch_tagger"


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); return its exit status."""
    command = get_command(torch_tagger_cli)
    try:
        command.main(args=argv, prog_name=PROG_NAME)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
