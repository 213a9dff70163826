"""How a command stops on an error the user can act on: a wasabi failure message
and exit status 1, as spaCy's own commands do."""

import sys
from typing import NoReturn

from wasabi import msg


def fail(title: str, text: str = "") -> NoReturn:
    """Print `title` (and `text` below it) as a failure and exit with status 1."""
    msg.fail(title, text)
    sys.exit(1)
