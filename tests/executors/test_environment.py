from __future__ import annotations

import datetime
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchrecon.documents.model import EnvValue, FromEnv
from orchrecon.executors import MissingSecretError
from orchrecon.executors.environment import Redactor, resolve_env, secret_values, to_json
from orchrecon.executors.tasklog import TaskLog

SECRET = "tok-abcdef"
TEXT = f"before {SECRET} middle {SECRET}{SECRET} tok-abc after tok-"


def redact_in_pieces(redactor: Redactor, data: bytes, cuts: list[int]) -> bytes:
    bounds = [0, *cuts, len(data)]
    out = b"".join(redactor.feed(data[a:b]) for a, b in itertools.pairwise(bounds))
    return out + redactor.flush()


def test_resolve_env_reads_from_env_values() -> None:
    values: dict[str, EnvValue] = {"URL": "https://shop", "KEY": FromEnv(var="SHOP_KEY")}
    assert resolve_env(values, {"SHOP_KEY": "k-123"}) == {"URL": "https://shop", "KEY": "k-123"}
    assert secret_values(values, {"SHOP_KEY": "k-123"}) == ["k-123"]


def test_a_missing_variable_is_named_and_no_value_shown() -> None:
    with pytest.raises(MissingSecretError, match=r"^environment variable SHOP_KEY is not set$"):
        resolve_env({"KEY": FromEnv(var="SHOP_KEY")}, {"OTHER": "value"})


def test_to_json_converts_what_json_cannot_hold() -> None:
    value = {"since": datetime.date(2026, 1, 1), "tables": ("a", "b"), "n": 1}
    assert json.loads(to_json(value)) == {"since": "2026-01-01", "tables": ["a", "b"], "n": 1}


def test_the_token_is_redacted_at_every_split_point() -> None:
    data = TEXT.encode()
    expected = TEXT.replace(SECRET, "***").encode()
    for cut in range(len(data) + 1):
        assert redact_in_pieces(Redactor([SECRET]), data, [cut]) == expected, cut


def test_the_token_is_redacted_when_fed_one_byte_at_a_time() -> None:
    data = TEXT.encode()
    assert redact_in_pieces(Redactor([SECRET]), data, list(range(1, len(data)))) == TEXT.replace(SECRET, "***").encode()


def test_the_longer_of_two_overlapping_secrets_wins() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redact_in_pieces(redactor, b"x abcdefgh y abcd z", [5, 6]) == b"x *** y *** z"


def test_short_and_empty_secrets_are_not_redacted() -> None:
    assert redact_in_pieces(Redactor(["", "1"]), b"1 2 3", [2]) == b"1 2 3"
    assert Redactor([]).text("anything") == "anything"


def test_tasklog_lines_are_redacted_and_follow_streamed_output(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "task.log"
    with TaskLog(path, Redactor([SECRET])) as log:
        log.feed(b"partial tok-ab")
        log.line(f"note about {SECRET}")
        assert log.last_line() == "note about ***"
    assert path.read_text() == "partial tok-ab\nnote about ***\n"


def test_tasklog_refuses_a_keep_that_leaves_no_room_for_the_marker(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep"):
        TaskLog(tmp_path / "x.log", Redactor([]), cap=100, keep=100)


SECRETS = st.lists(st.text(alphabet="ab\n", min_size=4, max_size=8), min_size=1, max_size=3)


@given(secrets=SECRETS, data=st.data())
@settings(max_examples=300, deadline=None)
def test_streamed_redaction_equals_redacting_the_whole_text(secrets: list[str], data: Any) -> None:
    # Text made of secrets, their fragments and filler, cut anywhere: what is emitted in pieces is what
    # redacting the whole text at once gives, so no cut lets a secret through.
    fragments = [*secrets, *(s[:k] for s in secrets for k in (1, len(s) - 1)), *(s[1:] for s in secrets), "x", "\n"]
    text = "".join(data.draw(st.lists(st.sampled_from(fragments), max_size=12)))
    encoded = text.encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=6)))
    assert redact_in_pieces(Redactor(secrets), encoded, cuts) == Redactor(secrets).text(text).encode()


def test_a_complete_line_is_emitted_at_once_and_only_a_possible_secret_beginning_waits() -> None:
    redactor = Redactor([SECRET])
    assert redactor.feed(b"progress 50%\n") == b"progress 50%\n"
    assert redactor.feed(b"no secret here") == b"no secret here"
    assert redactor.feed(b"; key tok-ab") == b"; key "  # "tok-ab" may be the start of the token
    assert redactor.feed(b"cdef done\n") == b"*** done\n"
    assert redactor.feed(b"tok-abX\n") == b"tok-abX\n"  # it was not the token after all


def test_the_log_on_disk_grows_with_each_line_and_a_split_secret_never_reaches_it(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "task.log"
    with TaskLog(path, Redactor([SECRET])) as log:
        assert path.read_bytes() == b""  # there from the start
        log.feed(b"first line\n")
        assert path.read_bytes() == b"first line\n"
        log.feed(b"key=tok-a")
        assert path.read_bytes() == b"first line\nkey="
        log.feed(b"bcdef\n")
        assert path.read_bytes() == b"first line\nkey=***\n"
