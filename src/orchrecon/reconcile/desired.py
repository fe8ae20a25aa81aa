"""The desired state: which definition of each orchestration applies, after reconciling a revision. Pure.

As Flux does: a revision whose orchestration document is valid is applied; an invalid one is recorded as
the last attempted revision while the last good definition keeps running (`Ready=False`,
`ValidationFailed`); an orchestration whose file is gone stops being scheduled (`Removed`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from orchrecon.documents.result import Validation
from orchrecon.errors import Diagnostic
from orchrecon.runs.definition import RunDefinition


class Reason(enum.Enum):
    """Why an orchestration is Ready or not: a closed set, as in Flux's conditions."""

    SUCCEEDED = "ReconciliationSucceeded"
    SUSPENDED = "Suspended"
    VALIDATION_FAILED = "ValidationFailed"
    REMOVED = "Removed"


@dataclass(frozen=True, kw_only=True)
class Desired:
    name: str
    applied: RunDefinition | None  # the last good definition (None: never valid, or removed)
    applied_revision: str | None
    last_attempted_revision: str
    ready: bool
    reason: Reason
    message: str
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def active(self) -> bool:
        """Its schedules and trigger are followed."""
        return self.applied is not None and self.reason is not Reason.REMOVED and not self.applied.orchestration.suspend


def orchestration_files(files: Mapping[str, bytes] | Validation) -> dict[str, str]:
    """Orchestration name -> its file, from the file names (valid or not)."""
    names = files.checked_files if isinstance(files, Validation) else files
    found = {}
    for file in names:
        parts = file.split("/")
        if len(parts) == 2 and parts[0] == "orchestrations" and parts[1].endswith((".yaml", ".yml")):
            found[parts[1].rsplit(".", 1)[0]] = file
    return found


def restore(applied: Mapping[str, str], read: Callable[[str], Validation]) -> dict[str, Desired]:
    """The last good definitions after a restart: each orchestration as of the revision it had applied
    (`read` validates a revision's files). Ones whose revision is unreadable are left out."""
    restored: dict[str, Desired] = {}
    for revision in sorted(set(applied.values())):
        try:
            validation = read(revision)
        except Exception:
            continue
        for name, desired in reconcile({}, validation, revision).items():
            if applied.get(name) == revision and desired.applied is not None:
                restored[name] = desired
    return restored


def reconcile(previous: Mapping[str, Desired], validation: Validation, revision: str) -> dict[str, Desired]:
    """Each orchestration's desired state after `revision`; `previous` is the state before it."""
    files = orchestration_files(validation)
    result: dict[str, Desired] = {}
    for name in sorted({*previous, *files}):
        before = previous.get(name)
        if name in validation.orchestrations:
            definition = RunDefinition.from_validation(validation, name, revision=revision, dirty=False)
            suspended = definition.orchestration.suspend
            result[name] = Desired(
                name=name,
                applied=definition,
                applied_revision=revision,
                last_attempted_revision=revision,
                ready=True,
                reason=Reason.SUSPENDED if suspended else Reason.SUCCEEDED,
                message=f"applied revision {revision[:12]}"
                + ("; suspended: schedules and triggers are off" if suspended else ""),
            )
        elif name in files:
            problems = tuple(d for d in validation.errors if d.file == files[name])
            kept = before.applied if before else None
            first = problems[0].render() if problems else "a configuration it uses is invalid"
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            still = (
                f"; revision {before.applied_revision[:12]} keeps running" if before and before.applied_revision else ""
            )
            result[name] = Desired(
                name=name,
                applied=kept,
                applied_revision=before.applied_revision if before else None,
                last_attempted_revision=revision,
                ready=False,
                reason=Reason.VALIDATION_FAILED,
                message=f"{first}{more}{still}",
                diagnostics=problems,
            )
        elif before is not None and before.reason is not Reason.REMOVED:
            result[name] = Desired(
                name=name,
                applied=None,
                applied_revision=before.applied_revision,
                last_attempted_revision=revision,
                ready=False,
                reason=Reason.REMOVED,
                message=f"removed in revision {revision[:12]}; its history stays",
            )
        elif before is not None:
            result[name] = before
    return result
