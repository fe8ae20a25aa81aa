"""The `orchrecon` command line: argument parsing and the one error handler."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from functools import cache

from orchrecon import __version__
from orchrecon.store import STATE_URL_VAR

# `--help` and `--version` import argparse alone: typing and pathlib (9 ms between them, as much as the interpreter's
# own start) wait for a command. mypy takes any TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# Command -> its module in orchrecon.commands and its line in `--help`, in the order `--help` lists them. A command's
# module is imported only when it runs (with its dependencies: the runner, the reconciler, …), so that `runs` or
# `tables touch` do not pay for the others, and `--help` for none of them.
COMMANDS = {
    "validate": ("validate", "check documents against the schema and each other"),
    "plan": ("plan", "next fire times, DST changes and trigger state"),
    "diff": ("diff", "what the working tree changes against a git revision"),
    "run": ("run", "run an orchestration now"),
    "retry": ("retry", "run a finished run again"),
    "cancel": ("cancel", "stop a waiting or processing run"),
    "runs": ("runs", "list recent runs"),
    "show": ("show", "show one run in detail"),
    "status": ("status", "what runs next, what ran, what failed"),
    "report": ("report", "rebuild status files and reports from the ledger"),
    "logs": ("logs", "print a run's task logs"),
    "tables": ("tables", "report table updates, list tables"),
    "tokens": ("tokens", "manage tokens"),
    "reconcile": ("reconcile", "follow the repository and run what is due"),
    "health": ("health", "exit 0 while the reconciler is alive"),
    "ledger": ("ledger", "check the ledger, set damaged lines aside"),
    "db": ("db", "the PostgreSQL state database's schema"),
    "init": ("init", "create a repository to start from: documents, schema, hooks, CI"),
    "import": ("imports", "bring orchestrations in from another system (keboola)"),
    "schema": ("schema", "print the JSON Schema of the documents"),
}
_VALUED = frozenset({"-C", "--repo", "--state-dir", "--state"})  # global options that take the next word


def build_parser(argv: Sequence[str] | None = None, command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`, or for `command`: only that command's module is imported, the others are listed."""
    parser = argparse.ArgumentParser(
        prog="orchrecon", description="GitOps reconciler for data-pipeline orchestrations.", formatter_class=_formatter
    )
    parser.add_argument("--version", action="version", version=f"orchrecon {__version__}")
    parser.add_argument("-C", "--repo", type=_path, default=".", help="the orchestration repository (default: .)")
    parser.add_argument(
        "--state-dir",
        type=_path,
        default=None,
        help="the state directory (default: $ORCHRECON_STATE_DIR or REPO/.orchrecon)",
    )
    parser.add_argument(
        "--state",
        dest="state_url",
        metavar="URL",
        default=None,
        help=f"a PostgreSQL state database for the ledger and locks, postgresql://… (default: ${STATE_URL_VAR})",
    )
    # Accept the global options after the command too; SUPPRESS keeps the top-level value when absent.
    common = argparse.ArgumentParser(add_help=False, formatter_class=_formatter)
    common.add_argument("-C", "--repo", type=_path, default=argparse.SUPPRESS, help="the orchestration repository")
    common.add_argument("--state-dir", type=_path, default=argparse.SUPPRESS, help="the state directory")
    common.add_argument(
        "--state", dest="state_url", metavar="URL", default=argparse.SUPPRESS, help="a PostgreSQL state database"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = command or _command_of(sys.argv[1:] if argv is None else argv)
    if named is not None:
        module, summary = COMMANDS[named]
        importlib.import_module(f"orchrecon.commands.{module}").add_parser(_Summarised(subparsers, summary), common)
        return parser
    # Only listed, in `--help` or argparse's error; a command named behind an option `_command_of` cannot place is
    # parsed again with its own parser (main). Each parser costs argparse 0.25 ms: none are made for a known command.
    for name, (_, summary) in COMMANDS.items():
        subparsers.add_parser(name, help=summary, formatter_class=_formatter)
    return parser


class _Summarised:
    """The subparsers as the command's module sees them: its `--help` line comes from COMMANDS."""

    def __init__(self, subparsers: Any, summary: str) -> None:
        self._subparsers = subparsers
        self._summary = summary

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._subparsers.add_parser(
            name, help=self._summary, formatter_class=_formatter, **kwargs
        )
        return parser


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's own, its width found as shutil.get_terminal_size finds it: importing shutil (and with it bz2 and
    lzma) costs `orchrecon --help` a fifth of the interpreter's start. Every parser makes one."""
    return argparse.HelpFormatter(prog, width=_terminal_columns() - 2)


@cache
def _terminal_columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _path(text: str) -> Path:
    from pathlib import Path  # noqa: PLC0415 - see TYPE_CHECKING above

    return Path(text)


def _command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` runs; None when it names none it knows (help, version, a typo: argparse then says so)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif word.startswith("-"):
            attached = word.split("=", 1)[0] in _VALUED or (word[:2] in _VALUED and not word.startswith("--"))  # -Cr
            if not attached:
                return None  # --help, --version, or an option argparse will refuse
        else:
            return word if word in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 invalid or failed, 2 usage or not found)."""
    args = build_parser(argv).parse_args(argv)
    if not hasattr(args, "handler"):  # its command came after an option `_command_of` could not place
        args = build_parser(argv, args.command).parse_args(argv)
    # Imported once the arguments hold (`--help` and `--version` have exited by now): they cost a few ms each.
    from orchrecon.errors import OrchreconError, printable, user_error  # noqa: PLC0415

    before = os.environ.get(STATE_URL_VAR)
    if args.state_url is not None:
        from orchrecon.store.backends import PASSWORD_SHOWN  # noqa: PLC0415

        # Every command finds its backend in the environment (store.backends), as tasks calling orchrecon do;
        # put back when the command ends (a command run inside another program leaves its environment as it was).
        os.environ[STATE_URL_VAR] = args.state_url
        if args.command not in ("db", "ledger") and _has_password(args.state_url):  # those two warn themselves
            print(PASSWORD_SHOWN, file=sys.stderr)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        print("orchrecon: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except (OrchreconError, OSError, BaseExceptionGroup) as exc:
        error = user_error(exc)
        if error is None:
            return _crash(exc)
        print(f"orchrecon: error: {printable(str(error))}", file=sys.stderr)
        return error.exit_code
    except Exception as exc:
        return _crash(exc)
    finally:
        # A command that opened a backend imported its module; one that did not (health, schema) has nothing to close.
        if (backends := sys.modules.get("orchrecon.store.backends")) is not None:
            backends.close_opened()
        if args.state_url is not None:
            if before is None:
                os.environ.pop(STATE_URL_VAR, None)
            else:
                os.environ[STATE_URL_VAR] = before
    return code


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit  # noqa: PLC0415 - only with --state

    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False  # not a URL: the backend says what is wrong with it


def _crash(exc: BaseException) -> int:
    """A bug: one line for the user, the traceback for the bug report (if a file can take it)."""
    from orchrecon.errors import crash_log  # noqa: PLC0415

    where = crash_log(exc)
    print(f"orchrecon: internal error: {type(exc).__name__} ({where})", file=sys.stderr)
    return 70
