"""The names `spacy_torch_tagger` exports: each resolves on first use to the object of
its module, and type checkers and IDEs (which do not call the module's __getattr__)
see every one of them from the same module."""

import ast
import importlib
from typing import Dict

import pytest

import spacy_torch_tagger

from conftest import REPO

INIT = REPO / "spacy_torch_tagger" / "__init__.py"


def type_checking_imports() -> Dict[str, str]:
    """name -> module (relative to the package) of the imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1
    names = {}
    for node in blocks[0].body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        for alias in node.names:
            assert alias.asname in (None, alias.name)
            names[alias.name] = node.module
    return names


def test_type_checkers_see_every_export_from_its_module():
    assert type_checking_imports() == spacy_torch_tagger._EXPORTS


@pytest.mark.parametrize("name", sorted(spacy_torch_tagger._EXPORTS))
def test_each_export_is_its_modules_object(name):
    module = importlib.import_module(f"spacy_torch_tagger.{spacy_torch_tagger._EXPORTS[name]}")
    assert getattr(spacy_torch_tagger, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        getattr(spacy_torch_tagger, "Nope")  # noqa: B009
