"""Benchmark `orchrecon plan` and one scheduling tick on a generated repository of 10,000 orchestrations.

    python bench/plan.py [--out DIR] [--runs 3] [--seed 2026] [--at TIME] [--profile] [--check]

The repository is deterministic for a given seed: 10,000 small orchestrations (`orchestrations/o-00001.yaml` ...;
one phase of one or two tasks, one schedule each and a second one on some, a trigger on some) whose schedules use
varied cron expressions (daily, weekday mornings, hourly, every 15 minutes, weekly, monthly, some inside the
02:00-03:00 DST window) in 50 IANA time zones, and 300 shared configurations (`configurations/<component>/<name>.yaml`:
ten components of 30), every one of them valid.

It times `orchrecon plan --count 10` as a whole process (text output, median of `--runs`; one JSON run first checks
that every orchestration is listed with ten fire times per schedule), then, in this process, builds a
`ScheduleBook` following every schedule and times one tick: `book.due(now)` at a full hour plus, for each due
schedule, `book.take(...)` and `classify(...)`, as the reconciler does. Targets: plan under 3.0 s for the
whole process, one tick under 50 ms. `--profile` also runs both under cProfile and prints where the time goes.

It exits 0 whatever the figures are (`--check`: 1 when a target is missed), 1 when orchrecon rejects the generated
documents (the benchmark then means nothing), and 2 on usage errors. Standard library and orchrecon only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from figures import out_problem, positive, print_rows, print_targets

from orchrecon.documents.model import Orchestration
from orchrecon.documents.repository import validate_tree
from orchrecon.scheduling.slots import ScheduleBook, SlotKind, classify

TARGET_PLAN_S = 3.0
TARGET_TICK_MS = 50.0
COUNT = 10  # plan --count

# 50 zones: whole, half- and quarter-hour offsets; northern and southern DST; DST at midnight, at 01:00 UTC,
# on Fridays, by 30 minutes (Lord Howe) and at 02:45 (Chatham); zones without DST.
TIME_ZONES = (
    "UTC",
    "Europe/Prague",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Europe/Bucharest",
    "Atlantic/Azores",
    "Atlantic/Reykjavik",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Bogota",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Havana",
    "America/Asuncion",
    "Pacific/Honolulu",
    "Africa/Casablanca",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Yangon",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Jerusalem",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
)

# component -> nouns of its configurations' names; extractors write `in.c-…` tables, the others `out.c-…`
COMPONENTS: dict[str, tuple[str, ...]] = {
    "ex-shop": ("orders", "refunds", "carts", "products", "vouchers"),
    "ex-crm": ("customers", "contacts", "deals", "accounts"),
    "ex-adform": ("campaigns", "line-items", "creatives", "budgets"),
    "ex-erp": ("invoices", "stock", "suppliers", "purchase-orders"),
    "ex-ga4": ("sessions", "events", "conversions", "audiences"),
    "tr-sql": ("sales-mart", "marketing-mart", "finance-mart", "stock-mart"),
    "tr-python": ("churn-score", "forecast", "dedupe", "attribution"),
    "tr-dbt": ("staging", "core", "marts", "snapshots"),
    "wr-report": ("daily-report", "weekly-report", "kpi-report", "stock-report"),
    "wr-gsheets": ("sales-sheet", "budget-sheet", "stock-sheet", "kpi-sheet"),
}
TIMEOUTS = ("5m", "10m", "30m", "1h", "2h", "6h")
COOLDOWNS = ("5m", "15m", "30m", "1h", "2h")


# --- the generated repository ------------------------------------------------------------------------------
# Every string is written as a JSON string (a YAML double-quoted scalar), so none is read as a boolean or number.


def q(value: str) -> str:
    return json.dumps(value)


def flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(q(v) for v in values) + "]"


@dataclass(frozen=True)
class Config:
    component: str
    name: str
    outputs: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.component}/{self.name}"


def configuration_yaml(rng: random.Random, config: Config) -> str:
    since = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return (
        "apiVersion: orchrecon/v1\n"
        "kind: Configuration\n"
        f"metadata: {{component: {q(config.component)}, name: {q(config.name)}, "
        f"description: {q(config.name.replace('-', ' ').capitalize())}}}\n"
        "spec:\n"
        "  run:\n"
        '    command: ["true"]\n'
        f"    timeout: {q(rng.choice(TIMEOUTS))}\n"
        f"  parameters: {{since: {q(since)}, days: {rng.choice((1, 3, 7, 28))}, "
        f"incremental: {'true' if rng.random() < 0.7 else 'false'}}}\n"
        f"  outputs: {flow(config.outputs)}\n"
    )


def cron(rng: random.Random) -> str:
    """A cron expression, drawn with weights from the forms users write."""
    minute, hour, morning = rng.randrange(60), rng.randrange(24), rng.randint(5, 9)
    dst_minute = rng.choice((0, 15, 30, 45, rng.randrange(60)))
    forms: list[tuple[int, str]] = [
        (20, f"{minute} {hour} * * *"),  # daily at a fixed time
        (6, f"0 {hour} * * *"),  # daily on the hour
        (12, f"{rng.choice((0, 15, 30, 45))} {morning} * * 1-5"),  # weekday mornings
        (8, "0 * * * *"),  # hourly
        (2, "@hourly"),
        (3, f"{minute} * * * *"),  # hourly at a fixed minute
        (6, "*/15 * * * *"),
        (3, "0 */2 * * *"),
        (4, f"0 {hour},{(hour + 12) % 24} * * *"),  # twice a day
        (5, f"{minute} {hour} * * {rng.randrange(7)}"),  # weekly
        (2, "@daily"),
        (1, "@weekly"),
        (5, f"{minute} {hour} 1 * *"),  # monthly
        (2, f"0 {morning} 1,15 * *"),
        (1, "@monthly"),
        # inside the DST window (spring-forward gaps and fall-back repeats around 02:00-03:00 local)
        (6, f"{dst_minute} 2 * * *"),
        (2, f"{dst_minute} 2 * * 0"),
        (2, "30 1-3 * * *"),
        (1, "*/15 2 * * *"),
        (1, f"{minute} 2 1 * *"),
    ]
    return rng.choices([text for _, text in forms], weights=[weight for weight, _ in forms])[0]


def schedules_yaml(rng: random.Random) -> str:
    """One schedule, two on some (never the same cron and zone twice: validation refuses that)."""
    wanted = 2 if rng.random() < 0.1 else 1
    seen: set[tuple[str, str]] = set()
    text = ""
    while len(seen) < wanted:
        expr, timezone = cron(rng), rng.choice(TIME_ZONES)
        if (expr, timezone) in seen:
            continue
        seen.add((expr, timezone))
        parts = [f"cron: {q(expr)}", f"timezone: {q(timezone)}"]
        if rng.random() < 0.3:
            parts.append(f"catchUp: {q(rng.choice(('latest', 'none')))}")
        text += "    - {" + ", ".join(parts) + "}\n"
    return text


def orchestration_yaml(rng: random.Random, name: str, configs: Sequence[Config]) -> str:
    chosen = rng.sample(configs, rng.choice((1, 1, 2)))
    lines = [
        "apiVersion: orchrecon/v1",
        "kind: Orchestration",
        f"metadata: {{name: {q(name)}, description: {q(f'Pipeline {name}')}}}",
        "spec:",
    ]
    if rng.random() < 0.02:
        lines.append("  suspend: true")
    lines += ["  phases:", "    - name: main", "      tasks:"]
    for config in chosen:
        task = f"name: {q(f'{config.component}-{config.name}')}, config: {q(config.ref)}"
        if len(chosen) > 1 and rng.random() < 0.2:
            task += ", continueOnFailure: true"
        lines.append(f"        - {{{task}}}")
    text = "\n".join(lines) + "\n  schedules:\n" + schedules_yaml(rng)
    if rng.random() < 0.1:
        tables = [t for config in chosen for t in config.outputs]
        text += f"  trigger: {{tables: {flow(rng.sample(tables, 1))}, cooldown: {q(rng.choice(COOLDOWNS))}}}\n"
    return text


@dataclass(frozen=True)
class Generated:
    orchestrations: int
    configurations: int
    schedules: int
    megabytes: float


def generate(root: Path, *, seed: int, orchestrations: int, per_component: int) -> Generated:
    """Write the repository into `root`."""
    rng = random.Random(seed)
    size = 0
    configs: list[Config] = []
    for component, nouns in COMPONENTS.items():
        folder = root / "configurations" / component
        folder.mkdir(parents=True, exist_ok=True)
        prefix = "in" if component.startswith("ex-") else "out"
        system = component.split("-", 1)[1]
        for i in range(per_component):
            name = f"{nouns[i % len(nouns)]}-{i + 1:03d}"
            outputs = tuple(f"{prefix}.c-{system}.{name}" + (f"-{k}" if k else "") for k in range(rng.randint(1, 2)))
            config = Config(component, name, outputs)
            configs.append(config)
            text = configuration_yaml(rng, config)
            (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
            size += len(text)
    (root / "orchestrations").mkdir(parents=True, exist_ok=True)
    schedules = 0
    for i in range(1, orchestrations + 1):
        name = f"o-{i:05d}"
        text = orchestration_yaml(rng, name, configs)
        schedules += text.count("    - {cron: ")
        (root / "orchestrations" / f"{name}.yaml").write_text(text, encoding="utf-8")
        size += len(text)
    return Generated(orchestrations, len(configs), schedules, size / 1_000_000)


# --- orchrecon plan, whole process -------------------------------------------------------------------------

_HEADER = re.compile(r"^o-\d+\b", re.MULTILINE)


@dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def timed(argv: Sequence[str]) -> Timed:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return Timed(time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _fail(what: str, result: Timed) -> None:
    print(f"{what} (exit {result.returncode}):\n{_tail(result.stderr or result.stdout)}", file=sys.stderr)
    sys.exit(1)


def plan_argv(repo: Path, state: Path, fmt: str, start: str | None) -> list[str]:
    argv = ["-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "plan", "--count", str(COUNT)]
    return [sys.executable, *argv, *(["--from", start] if start else []), *(["--format", fmt] if fmt != "text" else [])]


def check_json_plan(repo: Path, state: Path, start: str | None, gen: Generated) -> float:
    """One JSON run: every orchestration listed, COUNT fire times per schedule. Returns its seconds."""
    result = timed(plan_argv(repo, state, "json", start))
    if result.returncode != 0:
        _fail("orchrecon plan --format json failed on the generated repository", result)
    data = json.loads(result.stdout)
    plans = data["orchestrations"]
    schedules = [s for p in plans for s in p["schedules"]]
    short = [s for s in schedules if len(s["next"]) != COUNT]
    if not data["valid"] or len(plans) != gen.orchestrations or len(schedules) != gen.schedules or short:
        print(
            f"orchrecon plan --format json: valid {data['valid']}, {len(plans)} orchestrations "
            f"(expected {gen.orchestrations}), {len(schedules)} schedules (expected {gen.schedules}), "
            f"{len(short)} with fewer than {COUNT} fire times",
            file=sys.stderr,
        )
        sys.exit(1)
    return result.seconds


def time_text_plan(repo: Path, state: Path, start: str | None, runs: int, expected: int) -> list[float]:
    seconds: list[float] = []
    for _ in range(runs):
        result = timed(plan_argv(repo, state, "text", start))
        if result.returncode != 0:
            _fail("orchrecon plan failed on the generated repository", result)
        listed = len(_HEADER.findall(result.stdout))
        if listed != expected:
            print(f"orchrecon plan listed {listed} orchestrations, expected {expected}", file=sys.stderr)
            sys.exit(1)
        seconds.append(result.seconds)
    return seconds


def profile_plan(repo: Path, state: Path, start: str | None, out: Path, top: int) -> None:
    argv = plan_argv(repo, state, "text", start)
    result = timed([argv[0], "-m", "cProfile", "-o", str(out), *argv[1:]])
    if result.returncode != 0:
        _fail("orchrecon plan under cProfile failed", result)
    print(f"\n--- cProfile: orchrecon plan --count {COUNT}, whole process ({result.seconds:.3f} s with profiling)")
    print_stats(pstats.Stats(str(out)), top)


# --- one scheduling tick, in process -----------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    build_seconds: float  # following every schedule
    tick_seconds: float  # due + take + classify
    followed: int
    due: int
    decisions: Counter[SlotKind]


def build_book(orchestrations: Sequence[Orchestration], start: datetime) -> ScheduleBook:
    book = ScheduleBook()
    for o in orchestrations:
        book.follow(o, {}, start)
    return book


def tick(book: ScheduleBook, now: datetime) -> tuple[int, Counter[SlotKind]]:
    """Evaluate all schedules for one tick, as the reconciler does."""
    kinds: Counter[SlotKind] = Counter()
    keys = book.due(now)
    for key in keys:
        _, schedule = book.schedules[key]
        for decision in classify(schedule, book.take(key, now), now=now):
            kinds[decision.kind] += 1
    return len(keys), kinds


def measure_tick(orchestrations: Sequence[Orchestration], now: datetime) -> Tick:
    """Follow every schedule from a minute before `now`, then time the tick at `now`."""
    start = time.perf_counter()
    book = build_book(orchestrations, now - timedelta(minutes=1))
    built = time.perf_counter()
    due, kinds = tick(book, now)
    done = time.perf_counter()
    return Tick(built - start, done - built, len(book.schedules), due, kinds)


def profile_tick(orchestrations: Sequence[Orchestration], now: datetime, top: int) -> None:
    book = build_book(orchestrations, now - timedelta(minutes=1))
    profiler = cProfile.Profile()
    profiler.enable()
    tick(book, now)
    profiler.disable()
    print("\n--- cProfile: one tick (due + take + classify), in process")
    print_stats(pstats.Stats(profiler), top)


def print_stats(stats: pstats.Stats, top: int) -> None:
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]  # pstats prints to .stream
        stats.strip_dirs().sort_stats(order).print_stats(top)
        text = buffer.getvalue()
        print(text[text.find("   ncalls") :].rstrip() + "\n")


def next_full_hour(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


# --- report ------------------------------------------------------------------------------------------------


def report(
    *, gen: Generated, first_json: float, plan: Sequence[float], ticks: Sequence[Tick], now: datetime, load: float
) -> list[bool | None]:
    median_plan = statistics.median(plan)
    tick_ms = statistics.median(t.tick_seconds for t in ticks) * 1000
    last = ticks[-1]
    kinds = ", ".join(f"{n} {kind.value}" for kind, n in sorted(last.decisions.items(), key=lambda x: x[0].value))
    rows: list[tuple[str, str]] = [
        (
            "repository",
            f"{gen.orchestrations} orchestrations, {gen.configurations} configurations, {gen.schedules} schedules, "
            f"{len(TIME_ZONES)} time zones, {gen.megabytes:.1f} MB",
        ),
        ("plan --format json, first run (checked)", f"{first_json:.3f} s"),
        (f"plan --count {COUNT}, median of {len(plan)}", f"{median_plan:.3f} s"),
        (f"plan --count {COUNT}, min", f"{min(plan):.3f} s"),
        ("validate_tree, in process", f"{load:.3f} s"),
        (
            f"ScheduleBook: follow {last.followed} schedules, median of {len(ticks)}",
            f"{statistics.median(t.build_seconds for t in ticks):.3f} s",
        ),
        (f"tick at {now:%Y-%m-%dT%H:%MZ}: due schedules", f"{last.due} ({kinds or 'no decisions'})"),
        (f"tick: due + take + classify, median of {len(ticks)}", f"{tick_ms:.1f} ms"),
        ("tick, min", f"{min(t.tick_seconds for t in ticks) * 1000:.1f} ms"),
    ]
    print_rows(rows)

    targets = [
        (f"plan whole process under {TARGET_PLAN_S:.1f} s", f"{median_plan:.3f} s", median_plan < TARGET_PLAN_S),
        (f"one tick under {TARGET_TICK_MS:.0f} ms", f"{tick_ms:.1f} ms", tick_ms < TARGET_TICK_MS),
    ]
    return print_targets(targets)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an instant with a zone, e.g. 2026-03-29T01:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("expected an instant with a zone, e.g. 2026-03-29T01:00Z")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="generate the repository here (an empty or new folder) and keep it")
    parser.add_argument("--runs", type=positive, default=3, help="timed runs of plan and of the tick (default 3)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generator (default 2026)")
    parser.add_argument("--orchestrations", type=positive, default=10_000, help="orchestrations (default 10000)")
    parser.add_argument(
        "--per-component", type=positive, default=30, help="configurations per component (default 30, 10 components)"
    )
    parser.add_argument(
        "--at",
        type=_instant,
        help="the tick's instant, also passed to plan as --from (default: the next full hour; plan: now)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile plan and the tick with cProfile")
    parser.add_argument("--top", type=positive, default=15, help="functions shown per profile listing (default 15)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"plan.py: {problem}", file=sys.stderr)
        return 2
    try:
        for name in TIME_ZONES:
            ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:
        print(f"plan.py: time zone {exc} is missing; install tzdata", file=sys.stderr)
        return 2
    now: datetime = args.at.astimezone(UTC) if args.at is not None else next_full_hour(datetime.now(UTC))
    start: str | None = now.strftime("%Y-%m-%dT%H:%M:%SZ") if args.at is not None else None
    with tempfile.TemporaryDirectory(prefix="orchrecon-bench-") as tmp:
        repo = (args.out if args.out is not None else Path(tmp) / "repo").absolute()
        state = Path(tmp) / "state"
        repo.mkdir(parents=True, exist_ok=True)
        gen = generate(repo, seed=args.seed, orchestrations=args.orchestrations, per_component=args.per_component)
        print(f"repository: {repo}" + ("" if args.out is not None else " (temporary)") + f", seed {args.seed}")
        print(f"python: {sys.executable}")

        first_json = check_json_plan(repo, state, start, gen)
        plan = time_text_plan(repo, state, start, args.runs, gen.orchestrations)

        loaded = time.perf_counter()
        result = validate_tree(repo)
        load = time.perf_counter() - loaded
        if not result.valid or len(result.orchestrations) != gen.orchestrations:
            print(f"validate_tree: valid {result.valid}, {len(result.orchestrations)} orchestrations", file=sys.stderr)
            print("\n".join(d.render() for d in result.errors[:15]), file=sys.stderr)
            return 1
        orchestrations = sorted(result.orchestrations.values(), key=lambda o: o.name)
        ticks = [measure_tick(orchestrations, now) for _ in range(args.runs)]
        print()
        verdicts = report(gen=gen, first_json=first_json, plan=plan, ticks=ticks, now=now, load=load)
        if args.profile:
            profile_plan(repo, state, start, Path(tmp) / "plan.prof", args.top)
            profile_tick(orchestrations, now, args.top)
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
