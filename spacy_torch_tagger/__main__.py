"""`python -m spacy_torch_tagger COMMAND ...`: the package's command line."""

import argparse
import sys
from typing import List, Optional

from .commands import COMMANDS, load_command


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the command line, run the subcommand, return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m spacy_torch_tagger", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = load_command(name)
        module.add_arguments(subparsers.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    return int(load_command(args.command).run(args))


if __name__ == "__main__":
    sys.exit(main())
