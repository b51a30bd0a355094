"""The CLI contract, checked over the whole command tree: a command added later is held to it too.

Every command takes --estate, --as and --json, names its dataset with --dataset,
has help ending in examples that parse, a section in docs/cli.md (which must be
current) and a mention in a guide; help prose is wrapped once, by the terminal.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from joinedup.cli.common import input_file, output_file
from joinedup.cli.main import app
from joinedup.cli.reference import commands, examples, help_text, render
from joinedup.errors import ExitCode, InputError, JoinedupError

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = list(commands())
IDS = [" ".join(path) for path, _ in COMMANDS]


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_the_walk_finds_every_group_and_command() -> None:
    # Guards the walk itself: the tests below pass vacuously over an empty tree.
    assert {"ingest", "query", "show", "schema infer", "principal add", "audit verify"} <= set(IDS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_takes_estate_as_and_json(path: tuple[str, ...], command: Any) -> None:
    assert {"--estate", "-e", "--as", "--json"} <= _options(command), path


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_a_dataset_is_always_named_with_the_dataset_option(path: tuple[str, ...], command: Any) -> None:
    for param in command.params:
        mentions_dataset = "dataset" in param.name or "dataset" in (param.metavar or "").lower()
        if param.param_type_name == "argument":
            assert param.hidden or not mentions_dataset, (path, param.name)
        elif mentions_dataset and param.name != "all_datasets":
            assert {"--dataset", "-d"} <= set(param.opts), (path, param.opts)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_has_help_and_examples_that_parse(
    path: tuple[str, ...], command: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The files an example names are on the user's machine, not this one: parse without checking they exist.
    for param in command.params:
        if getattr(param.type_descriptor.parameter_info, "callback", None) in (input_file, output_file):
            monkeypatch.setattr(param, "callback", None)
    assert command.help and len(command.help.split("\n\n")[0]) > 20, path
    found = examples(command.help)
    assert found, f"joinedup {' '.join(path)}: its help needs an 'Example:' paragraph"
    for line in found:
        assert len(line) <= 76, f"{line!r}: an example longer than 76 characters wraps in an 80-column terminal"
        words = shlex.split(line)
        assert words[: len(path) + 1] == ["joinedup", *path], line
        # Parsing the example against the command catches an option renamed or removed since.
        parent = typer.Context(typer.main.get_command(app), info_name="joinedup")
        command.make_context(path[-1], words[len(path) + 1 :], parent=parent)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_command_has_a_section_in_the_reference_and_a_guide(path: tuple[str, ...], command: Any) -> None:
    name = "joinedup " + " ".join(path)
    assert f"\n## {name}\n" in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    guides = [ROOT / "README.md", *(p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")]
    assert any(re.search(rf"{re.escape(name)}\b", p.read_text(encoding="utf-8")) for p in guides), name


def test_the_cli_reference_is_current() -> None:
    current = render()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == current, "docs/cli.md is stale: run `make docs`"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_prose_is_wrapped_once_at_80_columns(path: tuple[str, ...], command: Any) -> None:
    lines = help_text(path, width=80).splitlines()
    prose = lines[: next(i for i, line in enumerate(lines) if line.startswith("╭"))]
    prose = prose[: next((i for i, line in enumerate(prose) if line.strip() == "Example:"), len(prose))]
    for line, following in itertools.pairwise(prose):
        if line.strip() and following.strip() and not line.strip().startswith("Usage:"):
            # A line ends early only when the next word would not fit on it.
            assert len(line) + 1 + len(following.split()[0]) > 78, (path, line, following)


def test_the_exit_codes_are_the_table_in_the_readme_and_the_reference() -> None:
    for page in (ROOT / "README.md", ROOT / "docs" / "cli.md"):
        text = page.read_text(encoding="utf-8")
        table = text[text.index("| Exit status |") :].split("\n\n")[0]
        assert [int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.M)] == [c.value for c in ExitCode], page


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def test_every_error_exits_with_a_status_from_the_table() -> None:
    assert {e.exit_code for e in _subclasses(JoinedupError)} <= set(ExitCode)
    assert typer.BadParameter("x").exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_purpose_option_refuses_one_with_no_letter_or_digit(path: tuple[str, ...], command: Any) -> None:
    # One shared PurposeOption: a command that declares --purpose its own way is caught here.
    for param in command.params:
        if "--purpose" in param.opts:
            context = typer.Context(command, info_name=path[-1])
            with pytest.raises(typer.BadParameter):
                param.process_value(context, "\u200b ")
            assert param.process_value(context, "quality review") == "quality review"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_limit_has_a_minimum(path: tuple[str, ...], command: Any) -> None:
    # A negative limit once printed "(first -1 rows…)" and dropped rows from the end instead.
    for param in command.params:
        if "--limit" in param.opts:
            assert getattr(param, "min", None) == 0, path


#: Path parameters that name a folder, not a file to read or write.
FOLDERS = {"--estate", "path", "out_dir", "folder"}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_every_file_to_read_or_write_is_checked_before_any_work(
    path: tuple[str, ...], command: Any, tmp_path: Path
) -> None:
    # A folder, or a missing folder to write into, once failed deep inside as IsADirectoryError "unexpectedly".
    context = typer.Context(command, info_name=path[-1])
    for param in command.params:
        if param.type_descriptor.annotation is not Path or FOLDERS & {param.name, *param.opts}:
            continue
        check = param.type_descriptor.parameter_info.callback
        assert check in (input_file, output_file), (path, param.name)
        with pytest.raises(InputError, match="is a folder"):
            param.process_value(context, tmp_path)
        if check is output_file:
            with pytest.raises(InputError, match="does not exist"):
                param.process_value(context, tmp_path / "missing" / "out.json")
            assert param.process_value(context, tmp_path / "out.json") == tmp_path / "out.json"
        else:
            with pytest.raises(InputError, match="file not found"):
                param.process_value(context, tmp_path / "missing.csv")
