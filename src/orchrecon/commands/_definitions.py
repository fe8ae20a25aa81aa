"""The definitions commands read: the working tree's, or, with no repository here, those the state
directory's reconciler applied, read from its mirror of the remote repository (`source/mirror.git`)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from orchrecon import gitsource
from orchrecon.app import App
from orchrecon.documents.model import Configuration, Orchestration
from orchrecon.documents.repository import validate_tree
from orchrecon.documents.result import Validation
from orchrecon.documents.validation import validate_files
from orchrecon.errors import Diagnostic, InvalidDocumentsError, NotFoundError, OrchreconError
from orchrecon.gitsource import GitError, working_tree_revision
from orchrecon.gitsource.remote import MIRROR, extract
from orchrecon.reconcile import desired
from orchrecon.runs.definition import RunDefinition


@dataclass(frozen=True, kw_only=True)
class Definitions:
    """`validation` is the working tree's, or that of the revision the reconciler last reconciled; then
    `applied` holds each orchestration's last good definition, as the reconciler runs it."""

    root: Path
    validation: Validation
    applied: Mapping[str, RunDefinition] | None = None
    revision: str | None = None

    @property
    def orchestrations(self) -> dict[str, Orchestration]:
        if self.applied is None:
            return dict(self.validation.orchestrations)
        return {name: d.orchestration for name, d in self.applied.items()}

    @property
    def configurations(self) -> dict[str, Configuration]:
        found = dict(self.validation.configurations)
        for d in (self.applied or {}).values():
            found.update(d.configurations)
        return found

    @property
    def errors(self) -> list[Diagnostic]:
        return self.validation.errors

    @property
    def valid(self) -> bool:
        return self.validation.valid

    def note(self) -> str | None:
        """Where the definitions come from, when that is not the working tree."""
        if self.revision is None:
            return None
        return f"no repository here: definitions as the reconciler applied them (revision {self.revision[:12]})"

    def definition(self, name: str) -> RunDefinition:
        """The orchestration a run of `name` runs now; invalid or unknown ones are refused."""
        found = self.applied.get(name) if self.applied is not None else None
        if found is not None:
            return found
        if self.applied is None and name in self.validation.orchestrations:
            revision, dirty = working_tree_revision(self.root)
            definition = RunDefinition.from_validation(self.validation, name, revision=revision, dirty=dirty)
            # Only the working tree's carries its document: errors about a selection then give positions.
            return replace(definition, source=self.validation.documents[self.validation.files[f"Orchestration/{name}"]])
        files = (f"orchestrations/{name}.yaml", f"orchestrations/{name}.yml")
        mine = [d for d in self.validation.errors if d.file in files]
        if mine:
            raise InvalidDocumentsError(mine)
        known = ", ".join(sorted(self.orchestrations)) or "none"
        raise NotFoundError(f"no valid orchestration {name!r} (valid orchestrations: {known})")


def load(app: App) -> Definitions:
    """The definitions of the working tree, or (without one) those the state directory records.
    Raises NotFoundError when the state directory holds none, OrchreconError when git cannot read them."""
    if app.working_tree:
        return Definitions(root=app.repo, validation=validate_tree(app.repo))
    mirror = _mirror(app)
    revision = app.store.reconciled_revision()
    if revision is None:
        raise NotFoundError(
            f"no repository here, and no reconciler has applied a revision in {app.state.root} yet"
            " (run this in a repository, or name one with -C DIR)"
        )

    @cache
    def read(rev: str) -> Validation:
        return validate_files(gitsource.read_revision(mirror, rev))

    applied_revisions = app.store.applied_revisions()
    restored = desired.restore(applied_revisions, read)
    try:
        latest = read(revision)
        current = desired.reconcile(restored, latest, revision)
    except GitError as exc:  # say, an invalid revision nothing pinned, lost to git's gc: the applied ones remain
        if applied_revisions and not restored:
            raise OrchreconError(f"cannot read the applied revisions from {mirror}: {exc}") from None
        latest, current = Validation(), restored
    applied = {name: d.applied for name, d in current.items() if d.applied is not None}
    return Definitions(root=mirror, validation=latest, applied=applied, revision=revision)


def known_orchestrations(app: App) -> set[str]:
    """Names of orchestrations defined here; without a repository, those the reconciler applied
    (from the index: no git needed)."""
    if app.working_tree:
        return set(validate_tree(app.repo).orchestrations)
    return set(app.store.applied_revisions())


@contextmanager
def revision_trees(app: App) -> Iterator[Callable[[str | None], Path] | None]:
    """Where the tasks of a run of this process run: the repository (None: the runner's default), or,
    without one, a temporary work tree of the run's revision, extracted from the mirror and removed
    afterwards. Private to this process, so the reconciler pruning its own trees never touches it."""
    if app.working_tree:
        yield None
        return
    mirror = _mirror(app)
    made: dict[str, Path] = {}

    def workdir(revision: str | None) -> Path:
        if revision is None:
            raise GitError("a run without a repository needs the revision it was defined in")
        if revision not in made:
            target = Path(tempfile.mkdtemp(prefix=f"orchrecon-{revision[:12]}-"))
            made[revision] = target
            extract(mirror, revision, target)
        return made[revision]

    try:
        yield workdir
    finally:
        for target in made.values():
            shutil.rmtree(target, ignore_errors=True)


def require_revision(app: App, revision: str | None, what: str) -> None:
    """Without a repository, `what` (a run's definition) can run only if the mirror holds its revision."""
    if app.working_tree:
        return
    mirror = _mirror(app)
    if revision is not None and gitsource.resolve(mirror, revision) is not None:
        return
    where = "a working tree outside git" if revision is None else f"revision {revision[:12]}, which {mirror} lacks"
    raise NotFoundError(
        f"{what} is defined in {where}: without a repository only revisions of the reconciler's remote can run"
        " (run this in the repository it came from, or -C DIR)"
    )


def _mirror(app: App) -> Path:
    mirror = app.state.source / MIRROR
    if mirror.is_dir():
        return mirror
    followed = _followed_path(app)
    hint = f"its reconciler follows {followed}: run this there" if followed else "run this in a repository"
    raise NotFoundError(
        f"no repository here, and {app.state.root} holds no mirror of a remote repository ({hint}, or -C DIR)"
    )


def _followed_path(app: App) -> str | None:
    """The local checkout the state directory's reconciler follows, if its status says so."""
    try:
        status = json.loads((app.state.status / "_reconciler.json").read_text(encoding="utf-8"))
        path = status["source"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return path if isinstance(path, str) else None
