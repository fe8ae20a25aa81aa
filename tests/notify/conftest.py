"""Fixtures of the notification tests: a workspace, a real SMTP server and a real webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execution import builders
from tests.execution.builders import Workspace
from tests.notify import receivers
from tests.notify.receivers import Mailbox, Webhook


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with receivers.smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with receivers.webhook() as receiver:
        yield receiver
