"""Benchmark `orchrecon validate` on a generated repository of 1,000 orchestrations and 1,000 configurations.

    python bench/validate.py [--out DIR] [--runs 5] [--schema-runs 1] [--seed 2026] [--check]

The repository is deterministic for a given seed: 1,000 orchestrations (`orchestrations/o-0001.yaml` ...; three
phases of ten tasks, one schedule each, notifications and triggers on some) and 1,000 configurations
(`configurations/<component>/<name>.yaml`: ten components of 100 configurations), every one of them valid.
It times `orchrecon validate` as a whole process (median and minimum of `--runs`) and, for comparison,
`check-jsonschema --schemafile schema/orchestration.schema.json` on the same files, then prints the figures and
whether the targets are met: under 2.0 s for the whole process, and at least 4x faster than check-jsonschema.

It exits 0 whatever the figures are (`--check`: 1 when a target is missed), 1 when a tool rejects the generated
documents (the benchmark then means nothing), and 2 on usage errors. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from figures import out_problem, positive, print_rows, print_targets

PROJECT = Path(__file__).resolve().parent.parent
SCHEMA = PROJECT / "schema" / "orchestration.schema.json"
SCHEMA_IN_REPO = "schema/orchestration.schema.json"

TARGET_SECONDS = 2.0
TARGET_SPEEDUP = 4.0

PHASES = 3
TASKS_PER_PHASE = 10

# component -> (phase it belongs to, nouns for configuration names, job script)
COMPONENTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ex-shop": ("extract", ("orders", "refunds", "carts", "products", "vouchers"), "jobs/extract_shop.py"),
    "ex-crm": ("extract", ("customers", "contacts", "deals", "accounts"), "jobs/extract_crm.py"),
    "ex-adform": ("extract", ("campaigns", "line-items", "creatives", "budgets"), "jobs/extract_adform.py"),
    "ex-erp": ("extract", ("invoices", "stock", "suppliers", "purchase-orders"), "jobs/extract_erp.py"),
    "ex-ga4": ("extract", ("sessions", "events", "conversions", "audiences"), "jobs/extract_ga4.py"),
    "tr-sql": ("transform", ("sales-mart", "marketing-mart", "finance-mart", "stock-mart"), "jobs/run_sql.py"),
    "tr-python": ("transform", ("churn-score", "forecast", "dedupe", "attribution"), "jobs/run_python.py"),
    "tr-dbt": ("transform", ("staging", "core", "marts", "snapshots"), "jobs/run_dbt.py"),
    "wr-report": ("write", ("daily-report", "weekly-report", "kpi-report", "stock-report"), "jobs/write_report.py"),
    "wr-gsheets": ("write", ("sales-sheet", "budget-sheet", "stock-sheet", "kpi-sheet"), "jobs/write_gsheets.py"),
}
PHASE_NAMES = ("extract", "transform", "write")

TIME_ZONES = (
    "UTC",
    "Europe/Prague",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Toronto",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Dubai",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Johannesburg",
)
EVENTS = ("failed", "warning", "succeeded", "processing-long", "recovered")
TEAMS = ("data-team", "analytics", "finance-bi", "marketing", "ops")
COOLDOWNS = ("1m", "5m", "15m", "30m", "50m", "1h", "1h30m", "2h")
TIMEOUTS = ("5m", "10m", "15m", "30m", "45m", "1h", "1h30m", "2h", "6h")

Yaml: TypeAlias = "str | int | float | bool | list[Yaml] | dict[str, Yaml] | None"


# --- a small YAML writer (block style, flow style for short scalar lists and maps) -------------------------

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@+-]*(?: [A-Za-z0-9_./@+()-]+)*")
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9_./?=&%-]+")
_PLAIN_DURATION = re.compile(r"(?:[0-9]+[dhms])+")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: Yaml, *, flow: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    assert isinstance(value, str)
    plain = bool(_PLAIN.fullmatch(value) or _PLAIN_DURATION.fullmatch(value))
    plain = plain or (not flow and bool(_PLAIN_URL.fullmatch(value)))
    if plain and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def _is_scalar(value: Yaml) -> bool:
    return not isinstance(value, dict | list)


def _flow(value: Yaml) -> str | None:
    """`value` on one line, or None when it is better written in block style."""
    if isinstance(value, list):
        if not all(_is_scalar(v) for v in value):
            return None
        text = "[" + ", ".join(_scalar(v, flow=True) for v in value) + "]"
    elif isinstance(value, dict):
        if len(value) > 2 or not all(_is_scalar(v) for v in value.values()):
            return None
        text = "{" + ", ".join(f"{k}: {_scalar(v, flow=True)}" for k, v in value.items()) + "}"
    else:
        return _scalar(value, flow=False)
    return text if len(text) <= 72 else None


def _mapping(data: dict[str, Yaml], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, dict | list) and not value:
            inline: str | None = "{}" if isinstance(value, dict) else "[]"
        else:
            inline = _flow(value)
        if inline is not None:
            lines.append(f"{pad}{key}: {inline}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines.extend(_mapping(value, indent + 2))
        elif isinstance(value, list):
            lines.append(f"{pad}{key}:")
            lines.extend(_sequence(value, indent + 2))
    return lines


def _sequence(items: list[Yaml], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, dict) and item:
            block = _mapping(item, indent + 2)
            lines.append(f"{pad}- {block[0][indent + 2 :]}")
            lines.extend(block[1:])
        else:
            inline = _flow(item)
            if inline is None:
                assert isinstance(item, list)
                lines.append(f"{pad}-")
                lines.extend(_sequence(item, indent + 2))
            else:
                lines.append(f"{pad}- {inline}")
    return lines


def to_yaml(document: dict[str, Yaml], schema_ref: str) -> str:
    header = f"# yaml-language-server: $schema={schema_ref}\n"
    return header + "\n".join(_mapping(document, 0)) + "\n"


# --- the generated repository ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    component: str
    name: str
    phase: str
    outputs: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.component}/{self.name}"


def _config_names(component: str, nouns: Sequence[str], count: int) -> list[str]:
    regions = ("eu", "us", "apac", "cz", "de", "uk", "global")
    return [f"{nouns[i % len(nouns)]}-{regions[(i // len(nouns)) % len(regions)]}-{i + 1:03d}" for i in range(count)]


def _parameters(rng: random.Random, phase: str) -> dict[str, Yaml]:
    params: dict[str, Yaml] = {}
    if phase == "extract":
        params["since"] = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        params["days"] = rng.choice((1, 3, 7, 14, 28, 90))
        params["incremental"] = rng.random() < 0.7
        params["pageSize"] = rng.choice((100, 250, 500, 1000))
        if rng.random() < 0.5:
            params["fields"] = rng.sample(["id", "created", "updated", "status", "amount", "currency", "owner"], 4)
    elif phase == "transform":
        params["excludeStatuses"] = rng.sample(["refunded", "cancelled", "test", "fraud"], rng.randint(1, 2))
        params["targetRoas"] = round(rng.uniform(1.5, 5.0), 2)
        params["materialize"] = rng.choice(("table", "view", "incremental"))
        if rng.random() < 0.5:
            params["vars"] = {"currency": rng.choice(("EUR", "USD", "CZK")), "fiscalYearStart": rng.randint(1, 12)}
    else:
        params["title"] = rng.choice(("Daily sales", "Weekly KPIs", "Stock levels", "Budget vs. actual"))
        params["output"] = f"data/out/report-{rng.randint(1, 9999):04d}.md"
        params["sections"] = [
            {
                "table": f"out.c-{rng.choice(('sales', 'marketing', 'finance'))}.t{rng.randint(1, 99)}",
                "orderBy": rng.choice(("date DESC", "revenue DESC", "sku")),
                "limit": rng.choice((10, 14, 30, 100)),
            }
            for _ in range(rng.randint(1, 3))
        ]
    params["seed"] = rng.randint(1, 100_000)
    return params


def configuration(rng: random.Random, config: Config, script: str) -> dict[str, Yaml]:
    env: dict[str, Yaml] = {
        "API_URL": f"https://api.{config.component.split('-', 1)[1]}.example/v{rng.randint(1, 3)}",
        "LOG_LEVEL": rng.choice(("info", "debug", "warning")),
    }
    if rng.random() < 0.6:
        env["API_TOKEN"] = {"fromEnv": f"{config.component.replace('-', '_').upper()}_TOKEN"}
    if rng.random() < 0.3:
        env["WAREHOUSE_PATH"] = "data/warehouse.sqlite"
    run: dict[str, Yaml] = {"command": ["python", script, "--config", config.name]}
    if rng.random() < 0.2:
        run["cwd"] = "jobs"
    run["env"] = env
    run["timeout"] = rng.choice(TIMEOUTS)
    spec: dict[str, Yaml] = {"run": run, "parameters": _parameters(rng, config.phase), "outputs": list(config.outputs)}
    return {
        "apiVersion": "orchrecon/v1",
        "kind": "Configuration",
        "metadata": {
            "component": config.component,
            "name": config.name,
            "description": f"{config.name.replace('-', ' ').capitalize()} ({config.component})",
        },
        "spec": spec,
    }


def _cron(rng: random.Random) -> str:
    minute, hour = rng.randrange(60), rng.randrange(24)
    first, second = sorted((hour, (hour + rng.randint(1, 23)) % 24))
    forms = (
        f"{minute} {hour} * * *",
        f"{minute} {hour} * * 1-5",
        f"{minute} {first},{second} * * *",
        f"{minute} {hour} 1 * *",
        f"{minute} {hour} 1,15 * *",
        f"{minute} {hour} * * 0",
        f"{minute} */2 * * *",
        "*/30 * * * *",
        "@daily",
        "@hourly",
        "@weekly",
    )
    return rng.choice(forms)


def _notification(rng: random.Random) -> dict[str, Yaml]:
    events = [e for e in EVENTS if rng.random() < 0.5] or ["failed"]
    notification: dict[str, Yaml] = {"events": list(events)}
    if rng.random() < 0.7:
        notification["email"] = f"{rng.choice(TEAMS)}@example.com"
    else:
        notification["webhook"] = f"https://hooks.example.com/services/T{rng.randint(1000, 9999)}"
    if "processing-long" in events and rng.random() < 0.5:
        notification["overtimePercent"] = rng.choice((25, 50, 100))
    return notification


def _task_parameters(rng: random.Random, phase: str) -> dict[str, Yaml]:
    """Overrides deep-merged over the configuration's parameters."""
    if phase == "extract":
        choices: list[dict[str, Yaml]] = [
            {"days": rng.choice((1, 3, 7))},
            {"incremental": False, "pageSize": 50},
            {"fields": ["id", "updated", "status"]},
        ]
    elif phase == "transform":
        choices = [{"vars": {"currency": "EUR"}}, {"materialize": "table", "dryRun": False}]
    else:
        choices = [{"title": "Daily sales (EU)"}, {"sections": [{"table": "out.c-sales.t1", "limit": 7}]}]
    return rng.choice(choices)


def orchestration(rng: random.Random, name: str, by_phase: dict[str, list[Config]]) -> dict[str, Yaml]:
    phases: list[Yaml] = []
    extract_outputs: list[str] = []
    for phase_name in PHASE_NAMES[:PHASES]:
        tasks: list[Yaml] = []
        for j, config in enumerate(rng.sample(by_phase[phase_name], TASKS_PER_PHASE)):
            task: dict[str, Yaml] = {"name": f"{config.component}-{config.name}", "config": config.ref}
            if j > 0 and rng.random() < 0.05:
                task["enabled"] = False
            if rng.random() < 0.1:
                task["continueOnFailure"] = True
            if rng.random() < 0.2:
                task["parameters"] = _task_parameters(rng, phase_name)
            tasks.append(task)
            if phase_name == "extract":
                extract_outputs.extend(config.outputs)
        phases.append({"name": phase_name, "tasks": tasks})
    schedule: dict[str, Yaml] = {"cron": _cron(rng), "timezone": rng.choice(TIME_ZONES)}
    if rng.random() < 0.5:
        schedule["catchUp"] = rng.choice(("latest", "none"))
    spec: dict[str, Yaml] = {}
    if rng.random() < 0.05:
        spec["suspend"] = True
    spec["phases"] = phases
    spec["schedules"] = [schedule]
    if rng.random() < 0.25:
        tables: list[Yaml] = list(rng.sample(extract_outputs, rng.randint(1, 3)))
        spec["trigger"] = {"tables": tables, "cooldown": rng.choice(COOLDOWNS)}
    if rng.random() < 0.4:
        spec["notifications"] = [_notification(rng) for _ in range(rng.randint(1, 2))]
    return {
        "apiVersion": "orchrecon/v1",
        "kind": "Orchestration",
        "metadata": {"name": name, "description": f"Pipeline {name}: extract, transform and write"},
        "spec": spec,
    }


def generate(root: Path, *, seed: int, orchestrations: int, per_component: int) -> list[str]:
    """Write the repository into `root`; returns the document files, relative to `root`."""
    rng = random.Random(seed)
    (root / "schema").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCHEMA, root / SCHEMA_IN_REPO)  # so that the documents' $schema comment resolves
    files: list[str] = []
    by_phase: dict[str, list[Config]] = {phase: [] for phase in PHASE_NAMES}
    for component, (phase, nouns, script) in COMPONENTS.items():
        folder = root / "configurations" / component
        folder.mkdir(parents=True, exist_ok=True)
        system = component.split("-", 1)[1]
        for name in _config_names(component, nouns, per_component):
            prefix = "in" if phase == "extract" else "out"
            outputs = tuple(
                f"{prefix}.c-{system}.{name}" + ("" if k == 0 else f"-{k}") for k in range(rng.randint(1, 3))
            )
            config = Config(component, name, phase, outputs)
            by_phase[phase].append(config)
            rel = f"configurations/{component}/{name}.yaml"
            text = to_yaml(configuration(rng, config, script), f"../../{SCHEMA_IN_REPO}")
            (root / rel).write_text(text, encoding="utf-8")
            files.append(rel)
    for phase in PHASE_NAMES[:PHASES]:
        if len(by_phase[phase]) < TASKS_PER_PHASE:
            raise SystemExit(f"validate.py: too few configurations for the {phase} phase; raise --per-component")
    (root / "orchestrations").mkdir(parents=True, exist_ok=True)
    for i in range(1, orchestrations + 1):
        name = f"o-{i:04d}"
        rel = f"orchestrations/{name}.yaml"
        text = to_yaml(orchestration(rng, name, by_phase), f"../{SCHEMA_IN_REPO}")
        (root / rel).write_text(text, encoding="utf-8")
        files.append(rel)
    return files


# --- timing ------------------------------------------------------------------------------------------------

_SUMMARY = re.compile(r"(\d+) files? checked: (\d+) errors?, (\d+) warnings?")


@dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    output: str


def timed(argv: Sequence[str], cwd: Path | None = None) -> Timed:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    return Timed(seconds, proc.returncode, proc.stdout + proc.stderr)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def time_orchrecon(repo: Path, runs: int, expected_files: int) -> tuple[list[float], int]:
    """Seconds of each run and the number of warnings; exits 1 when validate does not accept the repository."""
    seconds: list[float] = []
    warnings = 0
    for _ in range(runs):
        result = timed([sys.executable, "-m", "orchrecon", "-C", str(repo), "validate"])
        match = _SUMMARY.search(result.output)
        if result.returncode != 0 or match is None or int(match.group(2)) != 0:
            print(f"orchrecon validate exited {result.returncode} on the generated repository:", file=sys.stderr)
            print(_tail(result.output), file=sys.stderr)
            sys.exit(1)
        if int(match.group(1)) != expected_files:
            print(
                f"orchrecon validate checked {match.group(1)} files, expected {expected_files}:\n"
                + _tail(result.output),
                file=sys.stderr,
            )
            sys.exit(1)
        warnings = int(match.group(3))
        seconds.append(result.seconds)
    return seconds, warnings


def find_check_jsonschema() -> str | None:
    beside = Path(sys.executable).parent / "check-jsonschema"
    if beside.is_file():
        return str(beside)
    return shutil.which("check-jsonschema")


def time_check_jsonschema(executable: str, repo: Path, files: Sequence[str], runs: int) -> list[float]:
    seconds: list[float] = []
    for _ in range(runs):
        result = timed([executable, "--schemafile", SCHEMA_IN_REPO, *files], cwd=repo)
        if result.returncode != 0:
            print(f"check-jsonschema exited {result.returncode} on the generated repository:", file=sys.stderr)
            print(_tail(result.output), file=sys.stderr)
            sys.exit(1)
        seconds.append(result.seconds)
    return seconds


# --- report ------------------------------------------------------------------------------------------------


def report(
    *,
    files: int,
    orchestrations: int,
    configurations: int,
    megabytes: float,
    warnings: int,
    ours: Sequence[float],
    theirs: Sequence[float] | None,
    skipped_reason: str | None,
) -> list[bool | None]:
    median = statistics.median(ours)
    rows: list[tuple[str, str]] = [
        ("files", f"{files} ({orchestrations} orchestrations, {configurations} configurations, {megabytes:.1f} MB)"),
        (f"orchrecon validate, median of {len(ours)}", f"{median:.3f} s"),
        ("orchrecon validate, min", f"{min(ours):.3f} s"),
        ("orchrecon validate, warnings", str(warnings)),
    ]
    speedup: float | None = None
    if theirs:
        theirs_median = statistics.median(theirs)
        speedup = theirs_median / median
        label = "check-jsonschema" + (f", median of {len(theirs)}" if len(theirs) > 1 else "")
        rows.append((label, f"{theirs_median:.3f} s"))
        rows.append(("speed-up (check-jsonschema / orchrecon)", f"{speedup:.1f}x"))
    else:
        rows.append(("check-jsonschema", f"skipped: {skipped_reason}"))
    print_rows(rows)

    time_ok = median < TARGET_SECONDS
    speed_ok = None if speedup is None else speedup >= TARGET_SPEEDUP
    targets = [
        (f"orchrecon validate whole process under {TARGET_SECONDS:.1f} s", f"{median:.3f} s", time_ok),
        (
            f"at least {TARGET_SPEEDUP:.0f}x faster than check-jsonschema",
            "-" if speedup is None else f"{speedup:.1f}x",
            speed_ok,
        ),
    ]
    return print_targets(targets)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="generate the repository here (an empty or new folder) and keep it")
    parser.add_argument("--runs", type=positive, default=5, help="timed runs of orchrecon validate (default 5)")
    parser.add_argument(
        "--schema-runs", type=_non_negative, default=1, help="timed runs of check-jsonschema (default 1; 0 skips it)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generator (default 2026)")
    parser.add_argument("--orchestrations", type=positive, default=1000, help="orchestrations (default 1000)")
    parser.add_argument(
        "--per-component", type=positive, default=100, help="configurations per component (default 100, 10 components)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"validate.py: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="orchrecon-bench-") as tmp:
        repo = (args.out if args.out is not None else Path(tmp)).absolute()
        repo.mkdir(parents=True, exist_ok=True)
        files = generate(repo, seed=args.seed, orchestrations=args.orchestrations, per_component=args.per_component)
        size = sum((repo / f).stat().st_size for f in files)
        configurations = sum(f.startswith("configurations/") for f in files)
        print(f"repository: {repo}" + ("" if args.out is not None else " (temporary)") + f", seed {args.seed}")
        print(f"python: {sys.executable}")
        ours, warnings = time_orchrecon(repo, args.runs, len(files))

        theirs: list[float] | None = None
        reason: str | None = None
        executable = find_check_jsonschema()
        if args.schema_runs == 0:
            reason = "--schema-runs 0"
        elif executable is None:
            reason = "check-jsonschema not found next to the interpreter or on PATH"
            print(f"{reason}; skipping it (pip install check-jsonschema)")
        else:
            theirs = time_check_jsonschema(executable, repo, files, args.schema_runs)
        print()
        verdicts = report(
            files=len(files),
            orchestrations=len(files) - configurations,
            configurations=configurations,
            megabytes=size / 1_000_000,
            warnings=warnings,
            ours=ours,
            theirs=theirs,
            skipped_reason=reason,
        )
    return 1 if args.check and any(ok is False for ok in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
