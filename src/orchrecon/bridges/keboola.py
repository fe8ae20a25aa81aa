"""A Keboola project pulled with Keboola's `kbc` CLI, as orchrecon documents (pure: files in, files out).

The project's layout, as `kbc pull` writes it:

- `.keboola/manifest.json`: `project` (`id`, `apiHost`), `branches` (`id`, `path`) and `configurations`, each
  with `branchId`, `componentId`, `id`, `path` (under its branch's folder; a configuration nested in another,
  as a schedule in its orchestration, has its path under its parent's, named by `relations`).
- Each configuration's folder holds `meta.json` (`name`, `isDisabled`) and `config.json`.
- A `keboola.orchestrator` configuration's phases are `phases/NNN-name/phase.json` (`name`, `dependsOn`: the
  folders of the phases it comes after), its tasks `phases/NNN-name/NNN-task/task.json` (`name`, `enabled`,
  `continueOnFailure`, `task`: `mode` and `configPath`, the configuration's folder under the branch's, or
  `componentId` and `configId`; `configData` inline).
- A `keboola.scheduler` configuration's `config.json` has `schedule` (`cronTab`, `timezone`, `state`) and `target`
  (`componentId`, `configurationId`).

The result: one Orchestration per orchestrator configuration (phases in `dependsOn` order, ties in folder order),
its schedules, and one Configuration per component configuration its tasks run, as a `run.keboola` job. Names are
the Keboola names made into orchrecon names (`Daily Sales` -> `daily-sales`); the same project gives the same
files, byte for byte. A disabled schedule is left out; when every schedule of an orchestration is disabled they
are kept and the orchestration is `suspend: true`, so that it runs on no schedule until someone turns it on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from orchrecon.errors import OrchreconError

MANIFEST = ".keboola/manifest.json"
ORCHESTRATOR = "keboola.orchestrator"
SCHEDULER = "keboola.scheduler"
TOKEN_VARIABLE = "KBC_STORAGE_TOKEN"
_SLUG = re.compile(r"[^a-z0-9]+")
_NAME_LIMIT = 63


class ImportProblem(OrchreconError):
    """A file of the project that cannot be imported: `file: what is wrong`, one line."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file


@dataclass(frozen=True)
class _Config:
    branch: str  # its branch's folder
    component: str
    id: str
    folder: str  # from the project's root
    name: str  # its meta.json name, or its id


@dataclass
class _Project:
    files: Mapping[str, bytes]
    api_host: str
    project_id: str
    configs: dict[tuple[str, str], _Config] = field(default_factory=dict)  # (component, id) -> configuration
    by_folder: dict[str, _Config] = field(default_factory=dict)  # its folder, from the branch's -> configuration


def convert(files: Mapping[str, bytes]) -> dict[str, str]:
    """The documents for the project whose files (path from its root -> content) are given: repository path ->
    YAML text. Raises ImportProblem naming the file at fault."""
    project = _read_project(files)
    orchestrators = sorted(
        (c for c in project.configs.values() if c.component == ORCHESTRATOR), key=lambda c: (c.name, c.id)
    )
    schedules = _schedules(project)
    names = _Names()
    config_names = _Names()
    documents: dict[str, str] = {}
    # (component, id, variant) -> the configuration, whether it sends parameters, configData keys left out. A task
    # with inline configData gets a variant of its own (the task's file), so the others run the stored one.
    configs_used: dict[tuple[str, str, str], tuple[_Config, bool, list[str]]] = {}
    for orchestrator in orchestrators:
        name = names.take("", orchestrator.name, orchestrator.id)
        phases = _phases(project, orchestrator, configs_used)
        spec: dict[str, Any] = {}
        own = schedules.get(orchestrator.id, [])
        enabled = [s for s in own if s[2]]
        if own and not enabled:
            spec["suspend"] = True
        task_names = _Names()  # unique within the orchestration, as a retry matches tasks by name
        spec["phases"] = [
            {
                "name": phase_name,
                "tasks": [
                    _task_yaml(task_names.take("", t["name"], f"{phase_name}-{i + 1}"), t, config_names)
                    for i, t in enumerate(tasks)
                ],
            }
            for phase_name, tasks in phases
        ]
        kept = enabled or own
        if kept:
            spec["schedules"] = [{"cron": cron, "timezone": zone} for cron, zone, _ in kept]
        disabled = len(own) - len(enabled) if enabled else 0
        note = f"; {disabled} disabled schedule(s) there are left out" if disabled else ""
        header = _header(project, orchestrator, note)
        documents[f"orchestrations/{name}.yaml"] = header + _dump(
            {"apiVersion": "orchrecon/v1", "kind": "Orchestration", "metadata": {"name": name}, "spec": spec}
        )
    for (component, config_id, variant), (config, send, left_out) in sorted(configs_used.items()):
        folder, name = config_names.ref_of(config, variant)
        run: dict[str, Any] = {
            "component": component,
            "config": config_id,
            "url": _queue_url(project.api_host),
            "token": {"fromEnv": TOKEN_VARIABLE},
        }
        if send:
            run["sendParameters"] = True
        note = f"; its task's configData keys {', '.join(left_out)} are left out" if left_out else ""
        documents[f"configurations/{folder}/{name}.yaml"] = _header(project, config, note) + _dump(
            {
                "apiVersion": "orchrecon/v1",
                "kind": "Configuration",
                "metadata": {"component": folder, "name": name, "description": config.name},
                "spec": {"run": {"keboola": run}},
            }
        )
    return dict(sorted(documents.items()))


def _read_project(files: Mapping[str, bytes]) -> _Project:
    manifest = _json(files, MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("configurations"), list):
        raise ImportProblem(MANIFEST, "not a kbc manifest: it has no configurations list")
    info: dict[str, Any] = manifest["project"] if isinstance(manifest.get("project"), dict) else {}
    project = _Project(files, str(info.get("apiHost") or "connection.keboola.com"), str(info.get("id") or "?"))
    listed = manifest.get("branches") or []
    if not isinstance(listed, list):
        raise ImportProblem(MANIFEST, "branches is not a list")
    branches = {str(b.get("id")): str(b.get("path")) for b in listed if isinstance(b, dict) and b.get("path")}
    entries = [e for e in manifest["configurations"] if isinstance(e, dict)]
    by_key = {(str(e.get("componentId")), str(e.get("id"))): e for e in entries}
    for entry in entries:
        component, config_id, path = (str(entry.get(k, "")) for k in ("componentId", "id", "path"))
        if not component or not config_id or not path:
            raise ImportProblem(MANIFEST, "a configuration without componentId, id or path")
        branch = branches.get(str(entry.get("branchId")), "main")
        folder = f"{branch}/{path}"
        relations = entry.get("relations") or []
        if not isinstance(relations, list) or not all(isinstance(r, dict) for r in relations):
            raise ImportProblem(
                MANIFEST, f"configuration {config_id} of {component}: relations is not a list of objects"
            )
        for relation in relations:  # nested: its path is under its parent's
            parent = by_key.get((str(relation.get("componentId")), str(relation.get("configId"))))
            if isinstance(parent, dict) and f"{folder}/config.json" not in files:
                folder = f"{branch}/{parent.get('path')}/{path}"
        meta = _json(files, f"{folder}/meta.json", required=False)
        name = str(meta["name"]) if isinstance(meta, dict) and isinstance(meta.get("name"), str) else config_id
        config = _Config(branch, component, config_id, folder, name)
        project.configs[(component, config_id)] = config
        project.by_folder[f"{branch}/{path}"] = config
    return project


def _phases(
    project: _Project, orchestrator: _Config, used: dict[tuple[str, str, str], tuple[_Config, bool, list[str]]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The orchestrator's phases in `dependsOn` order, each with its tasks (the task.json data, resolved)."""
    root = f"{orchestrator.folder}/phases/"
    folders = _children(project.files, root)
    phases: dict[str, dict[str, Any]] = {}
    for folder in folders:
        file = f"{root}{folder}/phase.json"
        data = _json(project.files, file)
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ImportProblem(file, "a phase needs a name")
        depends = data.get("dependsOn") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise ImportProblem(file, "dependsOn must be a list of phase folders")
        for needed in depends:
            if needed not in folders:
                raise ImportProblem(file, f"dependsOn names {needed!r}, which is not a phase of this orchestration")
        phases[folder] = {"name": data["name"], "after": depends, "file": file}
    names = _Names()
    ordered = []
    for folder in _topological(phases):
        tasks = [
            _task(project, f"{root}{folder}/{task}/task.json", used)
            for task in _children(project.files, f"{root}{folder}/", "task.json")
        ]
        ordered.append((names.take("", phases[folder]["name"], folder), tasks))
    return ordered


def _children(files: Mapping[str, bytes], root: str, holding: str = "") -> list[str]:
    """The folders right under `root` (which ends in `/`) that hold some file (or the file `holding`), sorted."""
    found = set()
    for path in files:
        if path.startswith(root) and "/" in path[len(root) :]:
            child, rest = path[len(root) :].split("/", 1)
            if not holding or rest == holding:
                found.add(child)
    return sorted(found)


def _topological(phases: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Phase folders so that each comes after those it depends on; ties in folder order. Raises on a cycle."""
    done: list[str] = []
    visiting: list[str] = []

    def visit(folder: str) -> None:
        if folder in done:
            return
        if folder in visiting:
            cycle = [*visiting[visiting.index(folder) :], folder]
            raise ImportProblem(phases[folder]["file"], f"dependsOn makes a cycle: {' -> '.join(cycle)}")
        visiting.append(folder)
        for needed in sorted(phases[folder]["after"]):
            visit(needed)
        visiting.pop()
        done.append(folder)

    for folder in sorted(phases):
        visit(folder)
    return done


def _task(
    project: _Project, file: str, used: dict[tuple[str, str, str], tuple[_Config, bool, list[str]]]
) -> dict[str, Any]:
    data = _json(project.files, file)
    body = data.get("task") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(body, dict):
        raise ImportProblem(file, "a task needs a name and a task object")
    if isinstance(body.get("configPath"), str):
        config = project.by_folder.get(f"{file.split('/', maxsplit=1)[0]}/{body['configPath']}")
        if config is None:
            raise ImportProblem(file, f"task.configPath {body['configPath']!r} is no configuration of the project")
    else:
        config = project.configs.get((str(body.get("componentId")), str(body.get("configId"))))
        if config is None:
            raise ImportProblem(
                file,
                f"the task points nowhere: no configuration {body.get('configId')!r} of {body.get('componentId')!r}",
            )
    inline = body.get("configData")
    variant, parameters, left_out = "", None, []
    if isinstance(inline, dict):
        variant = file
        own = f"{config.name} (task {data['name']})"
        config = _Config(config.branch, config.component, config.id, config.folder, own)
        parameters = inline.get("parameters") if isinstance(inline.get("parameters"), dict) else None
        left_out = sorted(k for k in inline if k != "parameters")
    used[(config.component, config.id, variant)] = (config, isinstance(inline, dict), left_out)
    return {
        "name": data["name"],
        "config": config,
        "variant": variant,
        "enabled": data.get("enabled", True) is not False,
        "continueOnFailure": data.get("continueOnFailure", False) is True,
        "parameters": parameters,
    }


def _task_yaml(name: str, task: Mapping[str, Any], config_names: _Names) -> dict[str, Any]:
    folder, config = config_names.ref_of(task["config"], task["variant"])
    shown: dict[str, Any] = {"name": name, "config": f"{folder}/{config}"}
    if not task["enabled"]:
        shown["enabled"] = False
    if task["continueOnFailure"]:
        shown["continueOnFailure"] = True
    if task["parameters"]:
        shown["parameters"] = task["parameters"]
    return shown


def _schedules(project: _Project) -> dict[str, list[tuple[str, str, bool]]]:
    """Orchestrator id -> its schedules (cron, time zone, enabled), in the schedules' id order."""
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for config in sorted((c for c in project.configs.values() if c.component == SCHEDULER), key=lambda c: c.id):
        file = f"{config.folder}/config.json"
        data = _json(project.files, file)
        schedule = data.get("schedule") if isinstance(data, dict) else None
        target = data.get("target") if isinstance(data, dict) else None
        if (
            not isinstance(schedule, dict)
            or not isinstance(schedule.get("cronTab"), str)
            or not isinstance(target, dict)
        ):
            raise ImportProblem(file, "a schedule needs schedule.cronTab and a target")
        if target.get("componentId") != ORCHESTRATOR:
            continue
        orchestrator = str(target.get("configurationId"))
        if (ORCHESTRATOR, orchestrator) not in project.configs:
            raise ImportProblem(file, f"the schedule's target {orchestrator!r} is no orchestration of the project")
        zone = schedule.get("timezone") or "UTC"
        found.setdefault(orchestrator, []).append((schedule["cronTab"], str(zone), schedule.get("state") != "disabled"))
    return found


class _Names:
    """Keboola names made into orchrecon names, unique in their scope: `Daily Sales` -> `daily-sales`, and a
    second `daily-sales` -> `daily-sales-<id>`."""

    def __init__(self) -> None:
        self._taken: dict[tuple[str, str], str] = {}  # (scope, name) -> the id it was given to
        self._refs: dict[tuple[str, str, str], tuple[str, str]] = {}  # (component, id, variant) -> (folder, name)

    def take(self, scope: str, text: str, unique: str) -> str:
        name = slug(text) or slug(unique) or "x"
        if self._taken.get((scope, name), unique) != unique:
            name = slug(f"{name[: _NAME_LIMIT - len(unique) - 1]}-{unique}")
        self._taken[(scope, name)] = unique
        return name

    def ref_of(self, config: _Config, variant: str = "") -> tuple[str, str]:
        """The configuration's folder and name; a `variant` (a task's own, with its configData) is another one."""
        key = (config.component, config.id, variant)
        if key not in self._refs:
            folder = slug(config.component) or "keboola"
            self._refs[key] = (folder, self.take(folder, config.name, f"{config.id}-{len(self._refs) + 1}"))
        return self._refs[key]


def slug(text: str) -> str:
    """`text` as an orchrecon name: lowercase letters, digits and single '-', at most 63 characters."""
    return _SLUG.sub("-", text.lower()).strip("-")[:_NAME_LIMIT].strip("-")


def _queue_url(api_host: str) -> str:
    """The Job Queue API of the stack whose Storage API is `api_host` (connection.X -> https://queue.X)."""
    host = api_host.removeprefix("https://").removeprefix("http://").strip("/")
    return f"https://{'queue.' + host.removeprefix('connection.') if host.startswith('connection.') else host}"


def _header(project: _Project, config: _Config, note: str) -> str:
    return (
        f"# Imported from Keboola project {project.project_id} ({project.api_host}): {config.component}"
        f" configuration {config.id}{note}.\n"
    )


def _dump(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=120)


def _json(files: Mapping[str, bytes], file: str, *, required: bool = True) -> Any:
    raw = files.get(file)
    if raw is None:
        if not required:
            return None
        raise ImportProblem(file, "missing")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ImportProblem(file, f"not JSON: {exc}") from None


def needed_files(paths: Iterable[str]) -> list[str]:
    """Of a project's files, those the import reads (the JSON ones), sorted."""
    return sorted(p for p in paths if p.endswith(".json"))
