"""The state directory: where the ledger, status files, reports, logs, secrets and locks live."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchrecon.errors import FAULTS, NotFoundError, UsageError, storage_error

DEFAULT_NAME = ".orchrecon"


@dataclass(frozen=True)
class StateDir:
    root: Path
    named_by: str | None = field(default=None, compare=False)  # the option or variable that named it

    @property
    def ledger(self) -> Path:
        return self.root / "ledger"

    @property
    def status(self) -> Path:
        return self.root / "status"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def source(self) -> Path:
        """A remote repository's mirror and work trees."""
        return self.root / "source"

    @property
    def index(self) -> Path:
        return self.root / "index.sqlite"

    def ensure(self) -> StateDir:
        """Create the folders (secrets readable by the owner only); returns self. The state directory
        itself may be new, its parent must exist: a mistyped path is refused, not built. On a full or
        read-only state directory the folders it cannot create are left to the commands that write into them."""
        if not self.root.is_dir() and not self.root.parent.is_dir():
            missing = self.root.parent
            raise UsageError(f"cannot create state directory {self.root}{self._named()}: {missing} does not exist")
        try:
            for folder in (self.ledger, self.status, self.reports, self.logs, self.locks):
                folder.mkdir(parents=True, exist_ok=True)
            self.secrets.mkdir(mode=0o700, exist_ok=True)
            if self.secrets.stat().st_mode & 0o777 != 0o700:  # only then: a read-only state directory cannot chmod
                self.secrets.chmod(0o700)
        except OSError as exc:
            if exc.errno in FAULTS:  # a full, read-only or failing disk, not a wrong name
                if self.root.is_dir():
                    return self  # reading needs no new folder; each writer creates its own or says why not
                raise storage_error("cannot create", self.root, exc) from None
            raise UsageError(f"cannot use state directory {self.root}: {exc.strerror}") from None
        return self

    def existing(self) -> StateDir:
        """For commands that only read: the state directory must be there (nothing is created); returns
        self after `ensure` (its folders). Raises NotFoundError."""
        if not self.root.is_dir():
            raise NotFoundError(
                f"no state directory {self.root}{self._named()}: nothing has been recorded there; check the path"
            )
        return self.ensure()

    def _named(self) -> str:
        return f" (named by {self.named_by})" if self.named_by else ""


def resolve(repo: Path, explicit: Path | None, environ: Mapping[str, str]) -> StateDir:
    """`--state-dir`, else `ORCHRECON_STATE_DIR`, else `<repo>/.orchrecon` (kept out of git)."""
    state = named(explicit, environ)
    if state is not None:
        return state
    _exclude_from_git(repo)
    return default(repo)


def named(explicit: Path | None, environ: Mapping[str, str]) -> StateDir | None:
    """`--state-dir`, else `ORCHRECON_STATE_DIR`; None when neither names one."""
    if explicit is not None:
        return StateDir(explicit.absolute(), "--state-dir")
    if environ.get("ORCHRECON_STATE_DIR"):
        return StateDir(Path(environ["ORCHRECON_STATE_DIR"]).absolute(), "ORCHRECON_STATE_DIR")
    return None


def default(repo: Path) -> StateDir:
    """The repository's own state directory, `<repo>/.orchrecon`."""
    return StateDir(repo.absolute() / DEFAULT_NAME)


def _exclude_from_git(repo: Path) -> None:
    """Add the state folder to the work tree's `.git/info/exclude`, so it is never committed, without
    touching a tracked `.gitignore`."""
    here = repo.absolute()
    top = next((p for p in (here, *here.parents) if (p / ".git").is_dir()), None)
    if top is None:
        return
    exclude = top / ".git" / "info" / "exclude"
    line = "/" + (here / DEFAULT_NAME).relative_to(top).as_posix() + "/"
    try:
        existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        if line not in existing.splitlines():
            exclude.parent.mkdir(exist_ok=True)
            with exclude.open("a", encoding="utf-8") as f:
                f.write(("\n" if existing and not existing.endswith("\n") else "") + line + "\n")
    except OSError:
        pass  # a read-only checkout still runs; the state folder may then show as untracked
