"""Schedule decisions: which slots of a window fire, which were missed, what catch-up requests. Pure."""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchrecon.documents.model import CatchUp, Orchestration, Schedule
from orchrecon.scheduling.firetimes import fire_times

# A slot decided within this long after its time is on time (the evaluator wakes at the slot, give
# or take scheduling jitter); an older one was missed, e.g. while the reconciler was down.
GRACE = timedelta(minutes=1)
# Missed slots recorded one by one after a long downtime; the rest are counted in the last record.
MAX_MISSED_RECORDS = 100


class SlotKind(enum.Enum):
    FIRE = "fire"  # request a run for this slot
    MISSED = "missed"  # passed unevaluated; `catch_up` says whether it still gets a run
    SUSPENDED = "suspended"  # the orchestration is suspended: no run


@dataclass(frozen=True, kw_only=True)
class SlotDecision:
    slot: datetime
    kind: SlotKind
    catch_up: bool = False  # a missed slot that gets a run (catchUp: latest)
    also_missed: int = 0  # on the last recorded missed slot: how many more were missed and not recorded


def schedule_key(orchestration: str, schedule: Schedule) -> str:
    """Identifies a schedule across revisions by what it means, not where it is listed: a changed cron or
    zone is a new schedule; moving it or adding another one is not (validation refuses duplicates)."""
    return f"{orchestration}:{schedule.cron}@{schedule.timezone}"


def decide(
    schedule: Schedule, *, since: datetime, now: datetime, suspended: bool = False, grace: timedelta = GRACE
) -> list[SlotDecision]:
    """Decide every slot in (since, now]. On-time slots fire; older ones were missed, and with
    `catchUp: latest` the most recent missed slot still gets one run, unless an on-time slot follows it."""
    slots = list(itertools.takewhile(lambda slot: slot <= now, fire_times(schedule.cron, schedule.timezone, since)))
    return classify(schedule, slots, now=now, suspended=suspended, grace=grace)


def classify(
    schedule: Schedule, slots: list[datetime], *, now: datetime, suspended: bool = False, grace: timedelta = GRACE
) -> list[SlotDecision]:
    """The decisions for `slots`, the schedule's slots up to `now` not decided yet (see `decide`)."""
    if suspended:
        return _capped(slots, SlotKind.SUSPENDED, catch_up=False)
    on_time = [s for s in slots if now - s <= grace]
    missed = [s for s in slots if now - s > grace]
    decisions = _capped(missed, SlotKind.MISSED, catch_up=schedule.catch_up is CatchUp.LATEST and not on_time)
    return decisions + [SlotDecision(slot=s, kind=SlotKind.FIRE) for s in on_time]


def _capped(slots: list[datetime], kind: SlotKind, *, catch_up: bool) -> list[SlotDecision]:
    """One decision per slot, at most MAX_MISSED_RECORDS: the first ones and the last, which counts the rest."""
    if not slots:
        return []
    recorded = [*slots[: MAX_MISSED_RECORDS - 1], slots[-1]] if len(slots) > MAX_MISSED_RECORDS else slots
    unrecorded = len(slots) - len(recorded)
    decisions = [SlotDecision(slot=s, kind=kind) for s in recorded[:-1]]
    decisions.append(SlotDecision(slot=recorded[-1], kind=kind, catch_up=catch_up, also_missed=unrecorded))
    return decisions


def slot_key(orchestration: str, slot: datetime) -> str:
    """The idempotency key of a schedule decision: one orchestration, one instant."""
    return f"{orchestration}@{slot.astimezone(UTC).isoformat()[:19]}Z"


SLOT_RECORDS = frozenset({"schedule.fired", "schedule.missed", "schedule.suppressed"})


def decided_keys(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The slot keys these records decided (fold them as the ledger grows)."""
    return {str(r["key"]) for r in records if r.get("type") in SLOT_RECORDS and "key" in r}


def undecided(orchestration: str, decisions: list[SlotDecision], known: set[str]) -> list[SlotDecision]:
    """`decisions` without the slots already decided (`known`: the keys folded from the ledger)."""
    return [d for d in decisions if slot_key(orchestration, d.slot) not in known]


def slot_records(
    orchestration: str, key: str, schedule: Schedule, decisions: list[SlotDecision]
) -> list[dict[str, Any]]:
    """The ledger records of slot decisions (`schedule.fired` also needs the run it requested)."""
    kinds = {
        SlotKind.FIRE: "schedule.fired",
        SlotKind.MISSED: "schedule.missed",
        SlotKind.SUSPENDED: "schedule.suppressed",
    }
    records = []
    for d in decisions:
        record: dict[str, Any] = {
            "type": kinds[d.kind],
            "orchestration": orchestration,
            "schedule": key,
            "cron": schedule.cron,
            "timezone": schedule.timezone,
            "slot": slot_key(orchestration, d.slot).split("@", 1)[1],
            "key": slot_key(orchestration, d.slot),
        }
        if d.kind is SlotKind.MISSED:
            record["caughtUp"] = d.catch_up
        if d.kind is SlotKind.SUSPENDED:
            record["reason"] = "suspended"
        if d.also_missed:
            record["alsoMissed"] = d.also_missed
        records.append(record)
    return records


@dataclass(order=True)
class _Entry:
    next_fire: datetime
    key: str = field(compare=False)


@dataclass
class ScheduleBook:
    """The schedules being followed and each one's next fire time, so that a tick only looks at the
    schedules that are due (a heap), not at every schedule."""

    schedules: dict[str, tuple[str, Schedule]] = field(default_factory=dict)  # key -> (orchestration, schedule)
    since: dict[str, datetime] = field(default_factory=dict)  # key -> slots up to here are decided
    _upcoming: dict[str, datetime] = field(default_factory=dict)  # each one's next slot
    _queued: dict[str, datetime] = field(default_factory=dict)  # the slot of each one's live heap entry
    _slots: dict[str, Iterator[datetime]] = field(default_factory=dict)  # each one's fire times, kept going
    _heap: list[_Entry] = field(default_factory=list)

    def follow(self, orchestration: Orchestration, decided: dict[str, datetime], now: datetime) -> list[str]:
        """Follow the orchestration's schedules from what the ledger says is decided (`decided`: key ->
        instant); a schedule not in it is new and starts at `now`. Returns the new keys."""
        new = []
        for schedule in orchestration.schedules:
            key = schedule_key(orchestration.name, schedule)
            if key in self.schedules:
                continue
            if key not in decided:
                new.append(key)
            self.schedules[key] = (orchestration.name, schedule)
            self.decided(key, decided.get(key, now))
        return new

    def keys_of(self, orchestration: str) -> list[str]:
        return [k for k, (name, _) in self.schedules.items() if name == orchestration]

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.schedules.pop(key, None)
            self.since.pop(key, None)
            self._upcoming.pop(key, None)
            self._queued.pop(key, None)
            self._slots.pop(key, None)

    def due(self, now: datetime) -> list[str]:
        """Keys with a slot in (since, now]. The caller decides each (`decide`) and then calls `decided`,
        which schedules its next slot; until then the key is not due again."""
        keys = []
        while self._heap and self._heap[0].next_fire <= now:
            entry = heapq.heappop(self._heap)
            if self._queued.get(entry.key) == entry.next_fire:  # else stale: decided or forgotten since
                del self._queued[entry.key]  # due again only after `take` or `decided`
                keys.append(entry.key)
        return keys

    def take(self, key: str, now: datetime) -> list[datetime]:
        """The key's undecided slots up to `now` (for `classify`), marking them decided. One pass over
        its fire times: the first slot after `now` becomes its next upcoming one."""
        upcoming = self._upcoming.pop(key, None)
        slots = self._slots[key]
        taken = []
        while upcoming is not None and upcoming <= now:
            taken.append(upcoming)
            upcoming = next(slots, None)
        self.since[key] = now
        self._schedule_next(key, upcoming)
        return taken

    def decided(self, key: str, until: datetime) -> None:
        """Slots up to `until` are decided; the schedule's next slot comes after it."""
        self.since[key] = until
        _, schedule = self.schedules[key]
        self._slots[key] = fire_times(schedule.cron, schedule.timezone, until)
        self._schedule_next(key, next(self._slots[key], None))

    def _schedule_next(self, key: str, upcoming: datetime | None) -> None:
        if upcoming is None:
            self._upcoming.pop(key, None)
            self._queued.pop(key, None)
            return
        self._upcoming[key] = upcoming
        if self._queued.get(key) != upcoming:
            self._queued[key] = upcoming
            heapq.heappush(self._heap, _Entry(upcoming, key))

    def next_fire(self) -> datetime | None:
        """When the next schedule is due, for the evaluator to sleep until."""
        while self._heap and self._queued.get(self._heap[0].key) != self._heap[0].next_fire:
            heapq.heappop(self._heap)  # stale: decided again or forgotten
        return self._heap[0].next_fire if self._heap else None
