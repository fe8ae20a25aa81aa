from __future__ import annotations

import pytest

from orchrecon.documents.checks import LITERAL_WEBHOOK, project_problems
from orchrecon.documents.loader import load_text
from orchrecon.errors import Severity


def _problems(webhook: str) -> list[tuple[str, Severity, int, int]]:
    raw = (
        "apiVersion: orchrecon/v1\nkind: Project\nspec:\n  notifications:\n"
        f"    - events: [failed]\n      webhook: {webhook}\n"
    )
    doc = load_text("orchrecon.yaml", raw.encode())
    return [(d.message, d.severity, d.line, d.col) for d in project_problems(doc)]


@pytest.mark.parametrize(
    "webhook",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "https://alerts.example/hook?key=abc",
        "https://u:p@alerts.example",
    ],
)
def test_a_literal_webhook_with_more_than_a_host_is_a_positioned_warning(webhook: str) -> None:
    assert _problems(webhook) == [(LITERAL_WEBHOOK, Severity.WARNING, 6, 16)]


@pytest.mark.parametrize(
    "webhook", ["https://alerts.example", "http://alerts.example:8080/", "{fromEnv: SLACK_WEBHOOK}"]
)
def test_a_host_alone_or_from_env_says_nothing(webhook: str) -> None:
    assert _problems(webhook) == []


def test_a_url_that_is_not_http_stays_an_error_without_the_warning() -> None:
    [(message, severity, _, _)] = _problems("ftp://alerts.example/x")
    assert severity is Severity.ERROR
    assert "not an http:// or https:// URL" in message
