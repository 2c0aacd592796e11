"""The Studio's words: hints from the gateway and the doctor shown in the form's terms (escaped,
fields linked), and audit times a person reads at a glance."""

from __future__ import annotations

from datetime import UTC, datetime

from lakegate.studio.connection import form_terms
from lakegate.studio.copilot import readable_time


def test_cli_and_yaml_wording_becomes_the_forms() -> None:
    shown = str(form_terms("Wrong secret; try `client_auth: auto`."))
    assert shown == "Wrong secret; set Client authentication to “Auto (try body, then header)”."
    shown = str(form_terms("Set `token_url: https://h/oidc/v1/token` on the connector."))
    link = '<a href="#f-token_url">Token URL</a>'
    assert shown == f"Set {link} “https://h/oidc/v1/token” in the form."
    shown = str(form_terms("Store it with `lakegate secret set NAME`.", "/connectors/db"))
    assert "lakegate secret set" not in shown and "secret field" in shown
    shown = str(form_terms("Check the connector's base_url.", "/connectors/db"))
    assert '<a href="/connectors/db#f-base_url">Base URL</a>' in shown
    assert "`" not in str(form_terms("run `lakegate doctor` <now>"))
    assert "&lt;now&gt;" in str(form_terms("run `lakegate doctor` <now>"))  # escaped


def test_audit_times_are_readable() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    when = readable_time("2026-11-30T11:55:00.000Z", now)
    assert when == ("2026-11-30 11:55:00 UTC", "5 min ago")
    assert readable_time("2026-11-30T11:59:59Z", now)[1] == "just now"
    assert readable_time("2026-11-28T12:00:00Z", now)[1] == "2 d ago"
    assert readable_time("yesterday", now) == ("yesterday", "")


def test_import_curl_warnings_speak_of_the_connector_form() -> None:
    from lakegate.curl import parse_curl

    commands = [
        "curl -H 'Authorization: Bearer x' https://a.example/c",
        "curl -H 'X-Api-Key: x' https://a.example/c",
        "curl -u bob:pw https://a.example/c",
        "curl 'https://a.example/c?api_key=1'",
    ]
    for command in commands:
        for warning in parse_curl(command).warnings:
            shown = str(form_terms(warning))
            assert "--" not in shown and "lakegate connector add" not in shown, shown
            assert "Auth type" in shown, shown
