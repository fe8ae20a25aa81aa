"""ApiTokenStore on a real secrets folder: what is stored, who authenticates, revocation, last use, damage."""

from __future__ import annotations

import json
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.access import orchestration_principal
from orchrecon.errors import NotFoundError, StorageError, UsageError
from orchrecon.store.apitokens import ApiTokenStore
from orchrecon.store.tokens import TokenStore
from tests.clocks import FakeClock


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "secrets"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(secrets_dir: Path, clock: FakeClock) -> ApiTokenStore:
    return ApiTokenStore(secrets_dir, clock)


def test_building_the_store_reads_and_creates_nothing(secrets_dir: Path, store: ApiTokenStore) -> None:
    assert not secrets_dir.parent.exists()
    assert store.authenticate("orc_nothing-stored") is None
    assert not secrets_dir.parent.exists()


def test_a_created_token_authenticates_as_its_principal(store: ApiTokenStore) -> None:
    secret = store.create("ci", scopes=["runs:trigger"], orchestrations=["daily", "daily"], email="ci@example.com")
    assert secret.startswith("orc_")
    assert len(secret) == 4 + 43
    principal = store.authenticate(secret)
    assert principal is not None
    assert (principal.name, principal.scopes, principal.orchestrations) == (
        "ci",
        frozenset({"runs:trigger"}),
        frozenset({"daily"}),
    )
    assert (principal.email, principal.orchestration_token) == ("ci@example.com", False)


def test_an_unlimited_token_has_no_orchestration_limit(store: ApiTokenStore) -> None:
    principal = store.authenticate(store.create("reader", scopes=["runs:read", "tables:write", "runs:read"]))
    assert principal is not None
    assert principal.orchestrations is None
    (listed,) = store.list()
    assert (listed.scopes, listed.orchestrations) == (("runs:read", "tables:write"), ())


def test_an_orchestration_token_authenticates_as_that_orchestration(secrets_dir: Path, store: ApiTokenStore) -> None:
    token = TokenStore(secrets_dir).get("daily")
    assert token.startswith("orco_")
    assert store.authenticate(token) == orchestration_principal("daily")
    TokenStore(secrets_dir).rotate("daily")
    assert store.authenticate(token) is None  # the file changed: read again


def test_nothing_else_authenticates(secrets_dir: Path, store: ApiTokenStore) -> None:
    secret = store.create("ci", scopes=["admin"])
    orchestration = TokenStore(secrets_dir).get("daily")
    changed = [secret[:i] + ("A" if secret[i] != "A" else "B") + secret[i + 1 :] for i in range(len(secret))]
    others = [secret[:-1], secret + "x", secret.upper(), " " + secret, orchestration[:-1], orchestration + "x"]
    garbage = ["", "orc_", "orco_", "Bearer " + secret, secret[4:], "orc_\udcff", "orc_é" * 10, "orc_" + "a" * 10**6]
    for candidate in changed + others + garbage:
        assert store.authenticate(candidate) is None, candidate


def test_a_revoked_token_no_longer_authenticates_here_or_in_another_store(
    secrets_dir: Path, clock: FakeClock, store: ApiTokenStore
) -> None:
    other = ApiTokenStore(secrets_dir, clock)
    secret, kept = store.create("ci", scopes=["runs:read"]), store.create("kept", scopes=["runs:read"])
    assert other.authenticate(secret) is not None  # `other` has the file cached now
    store.revoke("ci")
    assert store.authenticate(secret) is None
    assert other.authenticate(secret) is None
    assert other.authenticate(kept) is not None
    assert [t.name for t in other.list()] == ["kept"]


def test_revoke_refuses_unknown_names_and_orchestration_tokens(
    secrets_dir: Path, store: ApiTokenStore, snapshot: SnapshotAssertion
) -> None:
    TokenStore(secrets_dir).get("daily")
    with pytest.raises(NotFoundError) as unknown:
        store.revoke("nope")
    with pytest.raises(UsageError) as orchestration:
        store.revoke("daily")
    assert (str(unknown.value), str(orchestration.value)) == snapshot


BAD_REQUESTS = {
    "name": ("Bad_Name", ["admin"], [], None),
    "name-dash": ("-ci", ["admin"], [], None),
    "no-scope": ("ci", [], [], None),
    "scope": ("ci", ["runs:write"], [], None),
    "limit-without-runs": ("ci", ["tables:write"], ["daily"], None),
    "limit-name": ("ci", ["runs:read"], ["Daily"], None),
    "email": ("ci", ["admin"], [], "not-an-email"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_create_refuses_bad_requests(
    store: ApiTokenStore, secrets_dir: Path, case: str, snapshot: SnapshotAssertion
) -> None:
    name, scopes, orchestrations, email = BAD_REQUESTS[case]
    with pytest.raises(UsageError) as refused:
        store.create(name, scopes=scopes, orchestrations=orchestrations, email=email)
    assert str(refused.value) == snapshot
    assert not (secrets_dir / "api-tokens.json").exists()


def test_a_name_is_taken_once(store: ApiTokenStore) -> None:
    first = store.create("ci", scopes=["admin"])
    with pytest.raises(UsageError, match="a token named 'ci' exists"):
        store.create("ci", scopes=["runs:read"])
    principal = store.authenticate(first)
    assert principal is not None
    assert principal.scopes == {"admin"}


def test_only_a_salted_hash_is_stored_owner_only(store: ApiTokenStore, secrets_dir: Path) -> None:
    one, two = store.create("one", scopes=["admin"]), store.create("two", scopes=["admin"])
    content = (secrets_dir / "api-tokens.json").read_text()
    assert one not in content
    assert two not in content
    assert one[4:20] not in content
    entries = json.loads(content)["tokens"]
    assert len({e["salt"] for e in entries}) == 2
    assert stat.S_IMODE((secrets_dir / "api-tokens.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700


def test_last_use_is_recorded_at_most_once_a_minute(store: ApiTokenStore, clock: FakeClock) -> None:
    secret = store.create("ci", scopes=["runs:read"])
    created = clock.now()
    assert store.list()[0].last_used is None
    store.authenticate(secret)
    assert store.list()[0].last_used == "2026-03-02T05:00:00.000Z"
    clock.advance(timedelta(seconds=59))
    store.authenticate(secret)
    assert store.list()[0].last_used == "2026-03-02T05:00:00.000Z"
    clock.advance(timedelta(seconds=1))
    store.authenticate(secret)
    assert store.list()[0].last_used == "2026-03-02T05:01:00.000Z"
    assert store.list()[0].created == "2026-03-02T05:00:00.000Z" == created.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_new_process_does_not_rewrite_a_last_use_under_a_minute_old(
    store: ApiTokenStore, secrets_dir: Path, clock: FakeClock
) -> None:
    secret = store.create("ci", scopes=["runs:read"])
    store.authenticate(secret)
    before = (secrets_dir / "api-tokens.json").stat().st_ino
    clock.advance(timedelta(seconds=30))
    assert ApiTokenStore(secrets_dir, clock).authenticate(secret) is not None
    assert (secrets_dir / "api-tokens.json").stat().st_ino == before


def test_concurrent_creates_lose_no_token(secrets_dir: Path, clock: FakeClock) -> None:
    secrets: dict[str, str] = {}

    def create(i: int) -> None:
        secrets[f"t{i}"] = ApiTokenStore(secrets_dir, clock).create(f"t{i}", scopes=["runs:read"])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = ApiTokenStore(secrets_dir, clock)
    assert len(store.list()) == 20
    assert all(store.authenticate(s) is not None for s in secrets.values())


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "tokens": [',
        b"\xff\xfe",
        b"[]",
        b'{"version": 2, "tokens": []}',
        b'{"version": 1, "tokens": [{}]}',
    ],
    ids=["torn", "not-utf8", "array", "version", "entry"],
)
def test_a_damaged_file_is_one_error_naming_it_and_is_never_rewritten(
    store: ApiTokenStore, secrets_dir: Path, content: bytes, snapshot: SnapshotAssertion
) -> None:
    file = secrets_dir / "api-tokens.json"
    secrets_dir.mkdir(parents=True)
    file.write_bytes(content)
    messages = set()
    for attempt in (lambda: store.create("ci", scopes=["admin"]), store.list, lambda: store.authenticate("orc_x")):
        with pytest.raises(StorageError) as damaged:
            attempt()
        messages.add(str(damaged.value).replace(str(secrets_dir), "<SECRETS>"))
        assert file.read_bytes() == content
    assert len(messages) == 1
    assert messages.pop() == snapshot


def test_a_damaged_orchestration_token_file_is_one_error_naming_it(store: ApiTokenStore, secrets_dir: Path) -> None:
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "orchestration-tokens.json").write_text('{"daily": 1}')
    with pytest.raises(StorageError, match=r"orchestration-tokens.json: damaged: not an object"):
        store.authenticate("orco_x")
    with pytest.raises(StorageError, match=r"orchestration-tokens.json: damaged"):
        TokenStore(secrets_dir).get("daily")
