"""The Studio's pages over plain HTTP (the way a browser without JavaScript uses them): fields
that follow the auth type, Import cURL, validation that keeps every edit, the Test panel with
inputs and failures, and the Copilot page."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from _support import client_token
from lakegate.copilot.audit import AuditLog, call_record
from lakegate.project import Action, Input, load_project
from lakegate.studio.jsonview import json_html
from lakegate.workspace import LocalWorkspace

from .browsing import seed
from .conftest import RunningStudio

WRONG_SECRET = "not-the-right-secret-5c1d"


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no field {name}"
    return unescape(match.group(1))


def post(
    client: httpx.Client, studio: RunningStudio, url: str, data: dict[str, Any]
) -> httpx.Response:
    return client.post(url, data={"csrf_token": studio.csrf(client), **data})


def test_the_form_shows_the_fields_of_the_chosen_auth_type_without_javascript(
    studio: RunningStudio,
) -> None:
    client = studio.client()
    page = client.get("/connectors/new").text
    assert 'name="client_id"' in page and 'name="token_url"' in page  # OAuth2 by default
    assert "<noscript>" in page  # the "show the fields" button for browsers without JS

    api_key = post(client, studio, "/connectors/new", {"intent": "refresh", "auth_type": "api_key"})
    assert 'name="header"' in api_key.text and 'name="query_param"' in api_key.text
    assert 'name="key"' in api_key.text and 'name="client_id"' not in api_key.text
    basic = post(client, studio, "/connectors/new", {"intent": "refresh", "auth_type": "basic"})
    assert 'name="username"' in basic.text and 'name="password"' in basic.text
    password = post(
        client,
        studio,
        "/connectors/new",
        {"intent": "refresh", "auth_type": "oauth2", "grant_type": "password", "client_id": "app"},
    )
    for name in ("username", "password", "client_id", "client_secret", "token_url"):
        assert f'name="{name}"' in password.text
    assert field_value(password.text, "client_id") == "app"
    assert not studio.project.exists()


def test_import_curl_fills_the_editor_and_never_copies_credentials(
    studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    client = studio.client()
    command = (
        f"curl -X POST '{workspace.host}/api/2.0/sql/statements?wait=true' "
        "-H 'Authorization: Bearer dapi-abc123secret' -H 'Accept: application/json' "
        '-d \'{"statement": "SELECT 1", "warehouse_id": "abc"}\''
    )
    response = post(client, studio, "/actions/new", {"intent": "import_curl", "curl": command})
    assert response.status_code == 200
    html = response.text
    assert re.search(r"<option selected>POST</option>", html)
    assert field_value(html, "path") == "/api/2.0/sql/statements"
    assert field_value(html, "query_name") == "wait"
    assert field_value(html, "header_name") == "Accept"
    assert "&#34;statement&#34;: &#34;SELECT 1&#34;" in html or "SELECT 1" in unescape(html)
    assert "dapi-abc123secret" not in html
    assert 'class="note"' in html  # the warning that the credential was left out
    assert 'name="curl"' in html and "api/2.0/sql/statements?wait" not in html  # consumed

    broken = post(
        client, studio, "/actions/new", {"intent": "import_curl", "curl": "curl 'unclosed"}
    )
    assert broken.status_code == 422
    assert 'id="error-curl"' in broken.text
    assert "curl &#39;unclosed" in broken.text  # the pasted command is still there


def test_an_invalid_action_keeps_every_edit_and_names_the_field(
    studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    client = studio.client()
    project = load_project(studio.project)
    project.set_action(
        "list_warehouses",
        Action(name="list_warehouses", connector="databricks", path="/api/2.0/sql/warehouses"),
    )
    project.save()
    before = studio.project.read_text()
    form = {
        "intent": "save",
        "name": "list_warehouses",
        "connector": "databricks",
        "method": "POST",
        "path": "/api/2.0/sql/statements",
        "query_name": ["wait", ""],
        "query_value": ["true", ""],
        "header_name": [""],
        "header_value": [""],
        "body": '{"statement": "{{sql}}", oops',
        "input_name": ["sql", ""],
        "input_type": ["string", "string"],
        "input_required": ["0"],
        "input_description": ["The SQL text", ""],
        "input_example": ["SELECT 1", ""],
        "output": "result",
        "risk": "write",
    }
    response = post(client, studio, "/actions/new", form)
    assert response.status_code == 422
    html = response.text
    assert "already an action called" in html and 'id="error-name"' in html
    assert 'id="error-body"' in html and "not JSON" in html
    assert field_value(html, "name") == "list_warehouses"
    assert field_value(html, "path") == "/api/2.0/sql/statements"
    assert field_value(html, "query_value") == "true"
    assert field_value(html, "input_name") == "sql"
    assert field_value(html, "input_example") == "SELECT 1"
    assert re.search(r'name="input_required" value="0" checked', html)
    assert '{"statement": "{{sql}}", oops' in unescape(html)
    assert studio.project.read_text() == before  # nothing written

    bad_output = {**form, "name": "run_sql", "body": '{"statement": "{{sql}}"}', "output": "[["}
    response = post(client, studio, "/actions/new", bad_output)
    assert response.status_code == 422 and 'id="error-output"' in response.text

    good = {**bad_output, "output": "status.state"}
    response = post(client, studio, "/actions/new", good)
    assert (
        response.status_code == 303 and response.headers["location"] == "/actions/run_sql?saved=1"
    )
    action = load_project(studio.project).actions["run_sql"]
    assert action.body == {"statement": "{{sql}}"}
    assert action.inputs["sql"] == Input(
        type="string", required=True, description="The SQL text", example="SELECT 1"
    )
    assert action.query == {"wait": "true"} and action.risk == "write"
    assert "already" not in client.get("/actions/run_sql").text


def test_the_test_panel_prefills_inputs_from_examples(
    studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    client = studio.client()
    creds = workspace.credentials
    token = client_token(workspace.host, creds["client_id"], creds["client_secret"])
    listed = httpx.get(
        f"{workspace.host}/api/2.0/sql/warehouses", headers={"Authorization": f"Bearer {token}"}
    ).json()
    starter = next(w for w in listed["warehouses"] if w["name"] == "Starter Warehouse")
    project = load_project(studio.project)
    example = Input(type="string", required=True, example=starter["id"])
    project.set_action(
        "get_warehouse",
        Action(
            name="get_warehouse",
            connector="databricks",
            path="/api/2.0/sql/warehouses/{{id}}",
            inputs={"id": example},
            output="name",
        ),
    )
    project.save()
    page = client.get("/actions/get_warehouse").text
    assert field_value(page, "test__id") == starter["id"]

    tested = post(client, studio, "/actions/get_warehouse", {**form_of(page), "intent": "test"})
    assert tested.status_code == 200
    assert re.search(r'id="test-status">200<', tested.text)
    assert "Starter Warehouse" in tested.text
    assert f"/api/2.0/sql/warehouses/{starter['id']}" in tested.text
    # Another value typed in the panel is what the Test sends.
    typed = {**form_of(page), "intent": "test", "test__id": "nope"}
    other = post(client, studio, "/actions/get_warehouse", typed)
    assert re.search(r'id="test-status">404<', other.text)
    assert "Check the action" in other.text or "Check the id" in other.text  # the error's hint
    assert field_value(other.text, "test__id") == "nope"


def test_a_failing_test_shows_the_error_the_hint_and_the_diagnosis(
    studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, secret=WRONG_SECRET)
    client = studio.client()
    form = {
        "intent": "test",
        "name": "list_warehouses",
        "connector": "databricks",
        "method": "GET",
        "path": "/api/2.0/sql/warehouses",
    }
    response = post(client, studio, "/actions/new", form)
    html = response.text
    assert response.status_code == 200
    assert "badge-bad" in html and 'class="problem-box"' in html
    assert "auth." in html  # the error's code, e.g. auth.token_failed
    assert 'class="hint"' in html
    # The doctor's own steps: the token request failed, what came before passed, the rest skipped.
    assert re.search(r'class="step-failed".*?token request', html, re.S)
    assert re.search(r'class="step-passed".*?base URL', html, re.S)
    skipped = re.findall(r'<li class="step-skipped">.*?</li>', html, re.S)
    assert skipped and all("✓" not in step for step in skipped)
    assert WRONG_SECRET not in html
    assert not load_project(studio.project).actions  # a Test writes nothing
    studio.assert_never_sent(WRONG_SECRET, workspace.credentials["client_secret"])


def test_the_copilot_page_shows_tools_policy_and_audit(
    studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    project = load_project(studio.project)
    project.set_action(
        "list_warehouses",
        Action(name="list_warehouses", connector="databricks", path="/api/2.0/sql/warehouses"),
    )
    project.set_action(
        "stop_warehouse",
        Action(name="stop_warehouse", connector="databricks", method="POST", path="/x/stop"),
    )
    project.save()
    log = AuditLog.for_project(project)
    log.write(call_record(client={"name": "claude"}, tool="list_warehouses",
                          arguments={}, outcome="ok", elapsed_ms=12.5, status=200))  # fmt: skip
    log.write(call_record(client={"name": "claude"}, tool="stop_warehouse", arguments={},
                          outcome="refused", elapsed_ms=0.4,
                          error={"code": "policy.refused", "message": "not exposed"}))  # fmt: skip
    client = studio.client()
    html = client.get("/copilot").text
    rows = re.findall(r"<tr>\s*<td data-label=\"Action\"><a href=\"/actions/(\w+)\">", html)
    assert rows == ["list_warehouses", "stop_warehouse"]
    assert re.search(r"list_warehouses.*?badge-ok\">exposed", html, re.S)
    assert re.search(r"stop_warehouse.*?badge-off\">hidden.*?does not allow writes", html, re.S)
    audit = html.split("Recent tool calls")[1]
    assert audit.index("stop_warehouse") < audit.index("list_warehouses")  # newest first
    assert "policy.refused: not exposed" in audit and "claude" in audit

    studio.project.write_text("# hand-written note: keep me\n" + studio.project.read_text())
    response = post(
        client,
        studio,
        "/copilot",
        {"allow_writes": "on", "warehouse_id": "abc123", "profile": "readonly"},
    )
    assert response.status_code == 303
    policy = load_project(studio.project).copilot
    assert studio.project.read_text().startswith("# hand-written note: keep me\n")
    assert policy.allow_writes is True and policy.pinned.warehouse_id == "abc123"
    assert re.search(r"stop_warehouse.*?badge-ok\">exposed", client.get("/copilot").text, re.S)


def test_json_is_folded_escaped_and_redacted() -> None:
    from lakegate.secrets import register_secret

    register_secret("tok-9f8e7d6c5b")
    html = str(json_html({"a": [1, 2.5, True, None], "b": "<script>x</script>",
                          "token": "tok-9f8e7d6c5b", "deep": {"x": {"y": {"z": 1}}}}))  # fmt: skip
    assert html.count("<details") == 5 and html.count("<details open>") == 5  # expanded
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "tok-9f8e7d6c5b" not in html and "***" in html
    assert '<span class="j-num">2.5</span>' in html and '<span class="j-bool">true</span>' in html
    many = str(json_html(list(range(500))))
    assert "… 300 more" in many


def form_of(page: str) -> dict[str, Any]:
    """The editor's fields as the browser would submit them (text inputs, selects, textareas)."""
    data: dict[str, Any] = {}
    for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page):
        if name not in ("csrf_token", "input_required"):
            data.setdefault(name, []).append(unescape(value))
    for name, body in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)<', body)
        data.setdefault(name, []).append(
            (chosen.group(1) or chosen.group(2))
            if chosen
            else re.search(r"<option[^>]*>([^<]*)<", body).group(1)
        )
    for name, value in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = unescape(value)
    data["input_required"] = re.findall(r'name="input_required" value="(\d+)" checked', page)
    return data
