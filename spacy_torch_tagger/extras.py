"""The optional extras of spacy-torch-tagger and the pip command that installs one."""

import importlib.metadata
from typing import List

DISTRIBUTION = "spacy-torch-tagger"


def extra_requirements(extra: str) -> List[str]:
    """The requirements of an extra (`transformers`, `report`, `ray`) as the installed
    package declares them (setup.cfg); empty when the package metadata is absent."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = f'extra == "{extra}"'
    return [requirement.split(";")[0].strip() for requirement in declared if marker in requirement]


def install_hint(extra: str) -> str:
    """A pip command installing what the extra adds. It names the libraries themselves,
    which works whether this package came from an index, a wheel or a checkout."""
    requirements = extra_requirements(extra)
    if not requirements:
        return f"pip install '{DISTRIBUTION}[{extra}]'"
    return (
        "pip install "
        + " ".join(f"'{requirement}'" for requirement in requirements)
        + f" (the [{extra}] extra)"
    )
