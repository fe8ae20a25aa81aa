"""The `orchrecon` command line: argument parsing and the one error handler."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from orchrecon import __version__
from orchrecon.commands import (
    cancel,
    db,
    diff,
    health,
    imports,
    init,
    ledger,
    logs,
    plan,
    reconcile,
    report,
    retry,
    run,
    runs,
    schema,
    show,
    status,
    tables,
    tokens,
    validate,
)
from orchrecon.errors import OrchreconError, crash_log, printable, user_error
from orchrecon.store.backends import PASSWORD_SHOWN, STATE_URL_VAR, close_opened

COMMANDS = (
    validate,
    plan,
    diff,
    run,
    retry,
    cancel,
    runs,
    show,
    status,
    report,
    logs,
    tables,
    tokens,
    reconcile,
    health,
    ledger,
    db,
    init,
    imports,
    schema,
)


def build_parser() -> argparse.ArgumentParser:
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
    for module in COMMANDS:
        module.add_parser(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 invalid or failed, 2 usage or not found)."""
    args = build_parser().parse_args(argv)
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
