"""The documentation and the code agree: every environment variable, command and flag the
docs name exists, every declared setting is documented, and the docs point only at files of
this repository."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mediaq.settings import declarations, env_name
from ops import settingsdoc
from ops.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
DEPLOY = [
    ROOT / "docker-compose.yml",
    ROOT / "docker-compose.worker.yml",
    *(ROOT / "deploy").glob("*.example"),
]
CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.S)
COMMAND = re.compile(r"(?:^|[\s/(`])mediaq ([a-z][a-z-]*)([^\n|#;&`]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
OUR_VARIABLE = re.compile(r"\b((?:MEDIAQ|MEDIA)_[A-Z0-9_]+)\b")
PROSE = {"is"}  # "mediaq is up:" in a printed banner
OUTSIDE = re.compile(r"SPEC §|\bSPEC\b|\bthe seed\b|seed's|Fastify peer|closing report|the issue")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def code_of(path: Path) -> list[str]:
    return [m.group(0) for m in CODE_SPAN.finditer(path.read_text())]


def known_variables() -> set[str]:
    """Settings, the variables of the compose and env files, and any the code reads."""
    known = {d.env for _, d in declarations()}
    for path in DEPLOY:
        text = path.read_text()
        known |= set(re.findall(r"\$\{([A-Z0-9_]+)", text))
        known |= set(re.findall(r"^([A-Z0-9_]+)=", text, re.M))
        known |= set(re.findall(r"^\s+([A-Z0-9_]+):", text, re.M))
    for path in [*ROOT.glob("*/**/*.py"), *ROOT.glob("scripts/*")]:
        if ".venv" not in path.parts:
            known |= set(re.findall(r"[\"']((?:MEDIAQ|MEDIA)_[A-Z0-9_]+)[\"']", path.read_text()))
    return known


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_variable_the_docs_name_exists(doc: Path) -> None:
    known = known_variables()
    named = set(OUR_VARIABLE.findall(doc.read_text()))
    unknown = [
        name
        for name in named - known
        # ``MEDIAQ_LIMIT_*`` names a family: some variable must start with it
        if not (name.endswith("_") and any(k.startswith(name) for k in known))
    ]
    assert sorted(unknown) == [], f"{doc.name} names variables nothing reads"


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """The options of a command and of its own subcommands (``mediaq schedule add --cron``)."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _flags(sub)
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_command_and_flag_the_docs_name_exists(doc: Path) -> None:
    commands = subcommands()
    wrong = []
    for span in code_of(doc):
        for match in COMMAND.finditer(span):
            name, rest = match.groups()
            if name in PROSE:
                continue
            if name not in commands:
                wrong.append(f"mediaq {name}")
                continue
            flags = _flags(commands[name])
            wrong += [f"mediaq {name} {f}" for f in FLAG.findall(rest) if f not in flags]
    assert wrong == [], f"{doc.name} names commands or flags that do not exist"


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    missing = [name for name in subcommands() if f"`mediaq {name}" not in text]
    assert missing == [], f"docs/operations.md does not describe {missing}"


def test_operations_doc_lists_every_setting() -> None:
    """The settings table lists exactly the declared settings, in order, each with its
    variable, default and flags as declared: ``python -m ops.settingsdoc`` rewrites it."""
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text.partition(settingsdoc.BEGIN)[2].partition(settingsdoc.END)[0]
    listed = re.findall(r"^\| `([A-Z0-9_]+)` \|", table, re.M)
    assert listed == [d.env for _, d in declarations()]
    assert settingsdoc.rewritten(text) == text, "run python -m ops.settingsdoc"


def test_every_declared_flag_is_taken_by_some_command() -> None:
    flags = settingsdoc.flags_by_setting()
    declared = {f.name: d.flag for f, d in declarations() if d.flag}
    assert declared, "no setting declares a flag"
    assert [name for name, flag in declared.items() if flag not in flags.get(name, {})] == []
    assert env_name("api_port") == "MEDIA_API_PORT"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_point_only_at_what_a_user_has(doc: Path) -> None:
    found = [m.group(0) for m in OUTSIDE.finditer(doc.read_text())]
    assert found == [], f"{doc.name} refers to documents outside the repository"


def test_cli_help_points_only_at_what_a_user_has() -> None:
    texts = [build_parser().format_help()]
    texts += [p.format_help() for p in subcommands().values()]
    assert [m.group(0) for t in texts for m in OUTSIDE.finditer(t)] == []


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:\s]+)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []
