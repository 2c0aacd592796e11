"""`parse_curl` reads a curl command as a shell and curl would, and keeps credentials out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakegate.curl import parse_curl
from lakegate.errors import ConfigError

HOST = "https://dbc-1.cloud.databricks.com"


def test_plain_get_splits_url_into_base_path_and_query() -> None:
    imp = parse_curl(f"curl '{HOST}/api/2.0/sql/warehouses?max_results=10&page_token='")
    assert imp.method == "GET"
    assert imp.base_url == HOST
    assert imp.path == "/api/2.0/sql/warehouses"
    assert imp.query == {"max_results": "10", "page_token": ""}
    assert imp.body is None
    assert imp.warnings == []


def test_repeated_query_parameters_become_a_list() -> None:
    imp = parse_curl(f"curl '{HOST}/x?tag=a&tag=b&tag=c'")
    assert imp.query == {"tag": ["a", "b", "c"]}


def test_explicit_method_in_every_spelling() -> None:
    for flag in ("-X DELETE", "--request DELETE", "-XDELETE", "--request=delete"):
        assert parse_curl(f"curl {flag} {HOST}/api/2.0/jobs/1").method == "DELETE"


def test_data_implies_post_and_json_is_parsed() -> None:
    imp = parse_curl(
        f"""curl {HOST}/api/2.0/sql/statements -H 'Content-Type: application/json' """
        """-d '{"statement": "SELECT 1", "wait_timeout": "10s", "n": 3}'"""
    )
    assert imp.method == "POST"
    assert imp.body == {"statement": "SELECT 1", "wait_timeout": "10s", "n": 3}
    assert imp.body_format == "json"
    assert imp.headers == {"Content-Type": "application/json"}


def test_json_body_is_detected_without_a_content_type() -> None:
    imp = parse_curl(f"""curl {HOST}/x --data-raw '[1, 2, {{"a": null}}]'""")
    assert imp.body == [1, 2, {"a": None}]
    assert imp.body_format == "json"


def test_json_flag_sets_method_headers_and_body() -> None:
    imp = parse_curl(f"""curl --json '{{"name": "wh"}}' {HOST}/api/2.0/sql/warehouses""")
    assert imp.method == "POST"
    assert imp.body == {"name": "wh"}
    assert imp.headers["Content-Type"] == "application/json"
    assert imp.headers["Accept"] == "application/json"


def test_invalid_json_body_is_kept_as_text_with_a_warning() -> None:
    imp = parse_curl(f"""curl {HOST}/x -H 'Content-Type: application/json' -d '{{oops'""")
    assert imp.body == "{oops"
    assert imp.body_format == "text"
    assert any("not valid JSON" in w for w in imp.warnings)


def test_form_data_is_joined_and_parsed_into_fields() -> None:
    imp = parse_curl(f"curl {HOST}/form -d a=1 -d 'b=two words' --data-urlencode 'c=x&y'")
    assert imp.method == "POST"
    assert imp.body == {"a": "1", "b": "two words", "c": "x&y"}
    assert imp.body_format == "form"
    assert imp.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_plain_text_body() -> None:
    imp = parse_curl(f"curl {HOST}/echo -H 'Content-Type: text/plain' --data-binary 'hello'")
    assert (imp.body, imp.body_format, imp.method) == ("hello", "text", "POST")


def test_get_flag_moves_data_into_the_query() -> None:
    imp = parse_curl(f"curl -G {HOST}/api/2.1/unity-catalog/tables -d catalog_name=main "
                     "--data-urlencode 'schema_name=my schema'")  # fmt: skip
    assert imp.method == "GET"
    assert imp.body is None
    assert imp.query == {"catalog_name": "main", "schema_name": "my schema"}


def test_head_flag() -> None:
    assert parse_curl(f"curl -I {HOST}/health").method == "HEAD"


def test_line_continuations_and_short_flag_clusters() -> None:
    command = (
        "curl -sSL \\\n"
        "  -X POST \\\n"
        f"  '{HOST}/api/2.0/sql/statements' \\\n"
        "  -H 'Accept: application/json' \\\n"
        """  --data '{"statement": "SELECT 1"}'"""
    )
    imp = parse_curl(command)
    assert imp.method == "POST"
    assert imp.path == "/api/2.0/sql/statements"
    assert imp.headers == {"Accept": "application/json"}
    assert imp.body == {"statement": "SELECT 1"}
    assert imp.warnings == []  # -s -S -L are quiet


def test_bash_ansi_c_quoted_strings_from_browser_copy_as_curl() -> None:
    imp = parse_curl(f"curl '{HOST}/x' --data-raw $'{{\"q\":\"it\\'s\\\\n\"}}'")
    assert imp.body == {"q": "it's\n"}


def test_authorization_header_is_not_copied_and_suggests_connector_auth() -> None:
    imp = parse_curl(f"curl -H 'Authorization: Bearer dapi-very-secret' {HOST}/api/2.0/x")
    assert imp.headers == {}
    assert imp.suggested_auth == "bearer"
    assert any("use connector auth" in w for w in imp.warnings)
    assert "dapi-very-secret" not in repr(imp)
    assert "dapi-very-secret" not in " ".join(imp.warnings)


def test_basic_authorization_header_suggests_basic() -> None:
    imp = parse_curl(f"curl -H 'authorization: Basic dXNlcjpwYXNz' {HOST}/x")
    assert imp.suggested_auth == "basic"
    assert imp.headers == {}


@pytest.mark.parametrize("header", ["X-API-Key", "Api-Key", "X-Auth-Token", "Cookie", "apikey"])
def test_api_key_like_headers_are_not_copied(header: str) -> None:
    imp = parse_curl(f"curl -H '{header}: s3cr3t-value' -H 'Accept: text/csv' {HOST}/x")
    assert imp.headers == {"Accept": "text/csv"}
    assert imp.suggested_auth == "api_key"
    assert all("s3cr3t-value" not in w for w in imp.warnings)
    assert any(header in w and "connector auth" in w for w in imp.warnings)


def test_credential_query_parameter_is_dropped_with_a_hint() -> None:
    imp = parse_curl(f"curl '{HOST}/x?api_key=s3cr3t&limit=5'")
    assert imp.query == {"limit": "5"}
    assert imp.suggested_auth == "api_key"
    assert any("--api-key-query api_key" in w for w in imp.warnings)
    assert "s3cr3t" not in repr(imp)


def test_user_flag_suggests_a_basic_auth_connector_without_the_password() -> None:
    imp = parse_curl(f"curl -u alice:hunter2 {HOST}/x")
    assert imp.suggested_auth == "basic"
    assert imp.username == "alice"
    text = " ".join(imp.warnings) + repr(imp)
    assert "hunter2" not in text
    assert "--auth basic --username alice --password-env" in text


def test_credentials_in_the_url_are_not_kept() -> None:
    imp = parse_curl("curl https://bob:pw123@api.example.com/v1/items")
    assert imp.base_url == "https://api.example.com"
    assert imp.suggested_auth == "basic"
    assert "pw123" not in repr(imp)
    assert "bob" not in repr(imp)


def test_computed_headers_are_dropped_quietly() -> None:
    imp = parse_curl(f"curl -H 'Host: x' -H 'Content-Length: 3' -H 'X-Trace: 1' {HOST}/x")
    assert imp.headers == {"X-Trace": "1"}
    assert imp.warnings == []


def test_unknown_and_unsupported_flags_are_ignored_with_a_warning() -> None:
    imp = parse_curl(f"curl --frobnicate -k -A 'my-agent' -o out.json {HOST}/x")
    assert imp.path == "/x"
    joined = " ".join(imp.warnings)
    assert "--frobnicate" in joined
    assert "-k" in joined and "TLS" in joined
    assert "-A" in joined
    assert "-o" not in joined  # output flags are quiet


def test_url_flag_and_default_ports() -> None:
    imp = parse_curl("curl --url https://API.example.com:443/v1")
    assert imp.base_url == "https://api.example.com"
    assert parse_curl("curl http://127.0.0.1:8123/a").base_url == "http://127.0.0.1:8123"


def test_a_url_without_scheme_gets_https_and_a_warning() -> None:
    imp = parse_curl("curl api.example.com/v1/items")
    assert imp.base_url == "https://api.example.com"
    assert any("no scheme" in w for w in imp.warnings)


def test_body_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "body.json").write_text(json.dumps({"a": [1, 2]}, indent=2))
    monkeypatch.chdir(tmp_path)
    imp = parse_curl(f"curl {HOST}/x -d @body.json")
    assert imp.body == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ("curl -X GET", "no URL"),
        ("curl 'https://x.com/a", "could not be read"),
        ("curl ftp://files.example.com/a", "not an http"),
        ("curl https://x.com/a -H", "needs a value"),
        ("curl https://x.com/a -d @/no/such/file.json", "could not be read"),
        ("curl https://x.com/a -d @-", "stdin"),
    ],
)
def test_malformed_commands_are_config_errors_with_hints(command: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_curl(command)
    assert fragment in info.value.message
    assert info.value.hint


def test_path_for_a_connector_base_url() -> None:
    imp = parse_curl(f"curl {HOST}/api/2.0/sql/warehouses")
    assert imp.path_for(HOST + "/") == "/api/2.0/sql/warehouses"
    assert imp.path_for(HOST + "/api/2.0") == "/sql/warehouses"


def test_path_for_another_origin_is_an_error_with_a_hint() -> None:
    imp = parse_curl("curl https://evil.example.com/api/2.0/sql/warehouses")
    with pytest.raises(ConfigError) as info:
        imp.path_for(HOST, "databricks")
    assert info.value.code == "config.curl_origin"
    assert "databricks" in info.value.message
    assert "--base-url https://evil.example.com" in info.value.hint


def test_path_for_outside_the_base_path_is_an_error() -> None:
    imp = parse_curl(f"curl {HOST}/other/x")
    with pytest.raises(ConfigError):
        imp.path_for(HOST + "/api")
    with pytest.raises(ConfigError):
        parse_curl(f"curl {HOST}/apix/y").path_for(HOST + "/api")


def test_scheme_or_port_difference_is_another_origin() -> None:
    with pytest.raises(ConfigError):
        parse_curl("curl http://api.example.com/x").path_for("https://api.example.com")
    with pytest.raises(ConfigError):
        parse_curl("curl https://api.example.com:8443/x").path_for("https://api.example.com")
