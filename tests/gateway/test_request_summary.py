"""What a Test shows of a request: credential headers masked by name, even when the value was
never registered with the redactor (a token typed into a header, a cookie from elsewhere)."""

from __future__ import annotations

import pytest

from lakegate.results import RequestSummary


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Bearer typed-in-token-0123456789", "Bearer ***"),
        ("authorization", "Basic dXNlcjpwYXNzd29yZA==", "Basic ***"),
        ("Proxy-Authorization", "Bearer proxy-token-0123456789", "Bearer ***"),
        ("Cookie", "session=cookie-value-0123456789", "***"),
        ("X-Api-Key", "api-key-value-0123456789", "***"),
        ("Api-Key", "api-key-value-9876543210", "***"),
    ],
)
def test_credential_headers_are_masked_by_name(name: str, value: str, shown: str) -> None:
    summary = RequestSummary.of("GET", "https://api.example.com/v1", {name: value}, set())
    assert summary.headers == {name: shown}
    assert value.split(" ")[-1] not in repr(summary.to_dict())


def test_headers_and_query_params_named_as_secrets_are_masked() -> None:
    summary = RequestSummary.of(
        "GET",
        "https://api.example.com/v1?token=query-secret-0123456789&page=2",
        {"X-Custom-Auth": "custom-secret-0123456789", "Accept": "application/json"},
        {"X-Custom-Auth", "token"},
    )
    assert summary.headers == {"X-Custom-Auth": "***", "Accept": "application/json"}
    assert "query-secret" not in summary.url and "page=2" in summary.url


def test_response_headers_mask_cookies_and_redact_registered_secrets() -> None:
    from lakegate.results import shown_response_headers
    from lakegate.secrets import register_secret

    register_secret("echoed-secret-value-0123456789")
    shown = shown_response_headers(
        {
            "Content-Type": "application/json",
            "Set-Cookie": "session=server-cookie-0123456789; HttpOnly",
            "X-Echo": "got echoed-secret-value-0123456789",
        }
    )
    assert shown["Content-Type"] == "application/json"
    assert shown["Set-Cookie"] == "***"
    assert "echoed-secret-value" not in repr(shown)
