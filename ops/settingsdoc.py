"""The settings table of docs/operations.md, written from the declarations in
``mediaq.settings`` and the flags ``mediaq`` exposes for them.

``python -m ops.settingsdoc`` rewrites the table between its markers; ``--check`` exits 1 when
the file differs from what the declarations say (a test does the same).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING
from pathlib import Path

from mediaq.settings import declarations, format_value
from ops.cli import build_parser

DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
BEGIN = "<!-- settings table: written by `python -m ops.settingsdoc` -->"
END = "<!-- end of settings table -->"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def flags_by_setting() -> dict[str, dict[str, list[str]]]:
    """For each destination of a flag: {flag: [the commands that take it]}."""
    found: dict[str, dict[str, list[str]]] = {}
    for command, subparser in subcommands().items():
        for action in subparser._actions:
            for flag in action.option_strings:
                found.setdefault(action.dest, {}).setdefault(flag, []).append(command)
    return found


def _flag_cell(flags: dict[str, list[str]], every: int) -> str:
    cells = []
    for flag, commands in flags.items():
        where = "every command" if len(commands) == every else ", ".join(commands)
        cells.append(f"`{flag}` ({where})")
    return "<br>".join(cells)


def table() -> str:
    """The Markdown table: variable, default, flag, what."""
    flags = flags_by_setting()
    commands = len(subcommands())
    lines = ["| variable | default | flag | what |", "|---|---|---|---|"]
    for f, d in declarations():
        if d.shown:
            default = d.shown
        elif f.default is MISSING or format_value(f.default) == "":
            default = "(none)"
        else:
            default = f"`{format_value(f.default)}`" + (" s" if f.name.endswith("_s") else "")
        flag = _flag_cell(flags.get(f.name, {}), commands)
        lines.append(f"| `{d.env}` | {default} | {flag} | {d.doc} |")
    return "\n".join(lines) + "\n"


def rewritten(text: str) -> str:
    """``text`` with the part between the markers replaced by the table."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    check = args.parse_args(argv).check
    text = DOC.read_text()
    new = rewritten(text)
    if check:
        if new != text:
            print(f"{DOC} is out of date: run python -m ops.settingsdoc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
