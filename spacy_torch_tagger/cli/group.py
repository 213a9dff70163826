"""The `torch-tagger` command group, added to spaCy's command line: `python -m spacy
torch-tagger COMMAND`. spaCy imports spacy_torch_tagger.cli through the package's
`spacy_cli` entry point before it parses the command line."""

from typing import Any, Dict

import click
import typer
from spacy.cli._util import app, parse_config_overrides

NAME = "torch-tagger"
HELP = """Commands of spacy-torch-tagger: tag a corpus into resumable shards, fit a
torch_tagger's probability temperatures, write an evaluation report with figures."""
# Every command that loads a pipeline takes spaCy's config overrides
# (--components.torch_tagger.top_k 3), which click passes on in ctx.args.
OVERRIDES = {"allow_extra_args": True, "ignore_unknown_options": True}
# Help of the options every command shares, in spaCy's words.
CODE_HELP = "Path to Python file with additional code (registered functions) to be imported"
GPU_HELP = "GPU ID or -1 for CPU"

torch_tagger_cli = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, rich_markup_mode=None)
app.add_typer(torch_tagger_cli)


def config_overrides(ctx: typer.Context) -> Dict[str, Any]:
    """The command line's config overrides, parsed as spaCy parses them (dotted keys);
    a usage error (exit status 2) for an option that is neither the command's nor a
    config setting."""
    try:
        return parse_config_overrides(ctx.args)
    except click.exceptions.NoSuchOption as error:
        # spaCy raises the click package's exception, which typer's own copy of click
        # does not catch: report it as typer reports an unknown option.
        ctx.fail(
            f"No such option: {error.option_name} (a config override names a setting: --section.key VALUE)"
        )
