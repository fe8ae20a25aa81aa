"""The `orchrecon` command line: argument parsing and the one error handler."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from orchrecon import __version__
from orchrecon.errors import OrchreconError, crash_log, printable, user_error
from orchrecon.store.backends import PASSWORD_SHOWN, STATE_URL_VAR, close_opened

# Command -> its module in orchrecon.commands, in the order `--help` lists them. A command's module is imported
# only when it runs (with its dependencies: the runner, the reconciler, …), so that `runs` or `tables touch` do
# not pay for the others; `--help` and an unknown command import them all.
COMMANDS = {
    "validate": "validate",
    "plan": "plan",
    "diff": "diff",
    "run": "run",
    "retry": "retry",
    "cancel": "cancel",
    "runs": "runs",
    "show": "show",
    "status": "status",
    "report": "report",
    "logs": "logs",
    "tables": "tables",
    "tokens": "tokens",
    "reconcile": "reconcile",
    "health": "health",
    "ledger": "ledger",
    "db": "db",
    "init": "init",
    "import": "imports",
    "schema": "schema",
}
_VALUED = frozenset({"-C", "--repo", "--state-dir", "--state"})  # global options that take the next word


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: with only its command's module imported when it names one, else with every one."""
    parser = argparse.ArgumentParser(
        prog="orchrecon", description="GitOps reconciler for data-pipeline orchestrations."
    )
    parser.add_argument("--version", action="version", version=f"orchrecon {__version__}")
    parser.add_argument("-C", "--repo", type=Path, default=Path(), help="the orchestration repository (default: .)")
    parser.add_argument(
        "--state-dir",
        type=Path,
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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-C", "--repo", type=Path, default=argparse.SUPPRESS, help="the orchestration repository")
    common.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS, help="the state directory")
    common.add_argument(
        "--state", dest="state_url", metavar="URL", default=argparse.SUPPRESS, help="a PostgreSQL state database"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _commands_of(sys.argv[1:] if argv is None else argv):
        importlib.import_module(f"orchrecon.commands.{COMMANDS[name]}").add_parser(subparsers, common)
    return parser


def _commands_of(argv: Sequence[str]) -> Sequence[str]:
    """The command `argv` runs, alone; every command when it names none it knows (help, a typo: argparse then
    lists them all)."""
    words = iter(argv)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif word.startswith("-"):
            if word.split("=", 1)[0] not in _VALUED:
                return list(COMMANDS)  # --help, --version, or an option argparse will refuse
        else:
            return [word] if word in COMMANDS else list(COMMANDS)
    return list(COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 invalid or failed, 2 usage or not found)."""
    args = build_parser(argv).parse_args(argv)
    before = os.environ.get(STATE_URL_VAR)
    if args.state_url is not None:
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
        close_opened()
        if args.state_url is not None:
            if before is None:
                os.environ.pop(STATE_URL_VAR, None)
            else:
                os.environ[STATE_URL_VAR] = before
    return code


def _has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False  # not a URL: the backend says what is wrong with it


def _crash(exc: BaseException) -> int:
    """A bug: one line for the user, the traceback for the bug report (if a file can take it)."""
    where = crash_log(exc)
    print(f"orchrecon: internal error: {type(exc).__name__} ({where})", file=sys.stderr)
    return 70
