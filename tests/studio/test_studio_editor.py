"""Point 4: the request editor: method and URL on one line, tabs, a wide response with status,
time, size, pretty and raw views, copy, the projection beside the raw response, live Test inputs,
a confirmation before a write is sent, an all-or-nothing Import cURL and the unsaved-edits guard."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from playwright.sync_api import Browser, Dialog, Page, expect

from _support import access_log
from lakegate.workspace import LocalWorkspace

from .browsing import seed, settled, signed_in
from .conftest import RunningStudio


def statement_posts(ws: LocalWorkspace) -> int:
    """How many statement requests the workspace has served (its access log, one line each)."""
    posts = [r for r in access_log(ws) if r["method"] == "POST"]
    return sum(1 for r in posts if r["path"] == "/api/2.0/sql/statements")


def wait_until(page: Page, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Let the browser's events run until `condition` holds (generous bound for a busy host)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        page.wait_for_timeout(50)


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def test_the_response_is_wide_expanded_and_has_pretty_raw_and_copy(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    with signed_in(browser, studio, width=1280, height=900) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.goto(f"{studio.url}/actions/list_warehouses")
        tabs = page.get_by_role("tab")
        expect(tabs).to_have_text(["Params", "Headers", "Body", "Inputs", "Output"])
        method, path = box(page, "#f-method"), box(page, "#f-path")
        assert abs(method["y"] - path["y"]) < method["height"]  # one line
        page.locator("#test-button").click()
        expect(page.locator("#test-status")).to_have_text("200", timeout=15_000)
        expect(page.locator("#test-outcome")).to_contain_text("Time")
        expect(page.locator("#test-size")).to_have_text(re.compile(r"[\d.]+ (B|KB)"))
        assert box(page, "#test-panel")["width"] >= 0.95 * box(page, ".editor")["width"]
        output, raw = page.locator(".response-pane").nth(0), page.locator(".response-pane").nth(1)
        expect(output).to_contain_text("what the copilot gets")
        assert box(page, ".response-pane:nth-child(1)")["x"] < box(page, "[data-views]")["x"]
        assert page.locator("#test-panel .json details:not([open])").count() == 0  # expanded

        raw.get_by_role("button", name="Raw").click()
        expect(page.locator("#raw-response")).to_be_visible()
        text = page.locator("#raw-response").inner_text()
        assert "Starter Warehouse" in json.dumps(json.loads(text))
        raw.get_by_role("button", name="Copy").click()
        expect(raw.get_by_role("button", name="Copied")).to_be_visible()
        assert json.loads(page.evaluate("navigator.clipboard.readText()")) == json.loads(text)
        raw.get_by_role("button", name="Pretty").click()
        expect(page.locator("#raw-response")).to_be_hidden()

        headers = page.locator("#test-panel .response-headers")
        headers.locator("summary").click()
        expect(headers).to_contain_text(re.compile("content-type", re.IGNORECASE))
        expect(headers).to_contain_text("application/json")


def test_declared_inputs_appear_in_the_test_panel_as_they_are_typed(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/actions/new?connector=databricks")
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.get_by_role("tab", name="Inputs").click()
        page.locator("input[name=input_name]").first.fill("warehouse_id")
        page.locator("input[name=input_example]").first.fill("abc123")
        field = page.locator("#test-panel #t-warehouse_id")
        expect(field).to_be_visible()
        expect(field).to_have_value("abc123")
        assert posts == []  # no round trip, no failed Test needed
        # Enter in a Test input runs the Test (not Save), with the value typed there.
        page.locator("#f-path").fill("/api/2.0/sql/warehouses/{{warehouse_id}}")
        field.fill("nope")
        field.press("Enter")
        expect(page.locator("#test-status")).to_have_text("404", timeout=15_000)
        expect(page.locator("#test-panel")).to_contain_text("/api/2.0/sql/warehouses/nope")
    assert "warehouse_id" not in studio.project.read_text()


def test_testing_a_write_asks_first_and_sends_nothing_until_confirmed(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    before = statement_posts(workspace)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/actions/new?connector=databricks")
        page.locator("#f-method").select_option("POST")
        page.locator("#f-path").fill("/api/2.0/sql/statements")
        page.get_by_role("tab", name="Body").click()
        page.locator("#f-body").fill('{"statement": "SELECT 1", "warehouse_id": "none"}')
        page.locator("#test-button").click()
        confirm = page.locator("#test-confirm")
        expect(confirm).to_contain_text("write request")
        expect(confirm).to_be_focused()
        assert statement_posts(workspace) == before
        page.get_by_role("button", name="Send POST anyway").click()
        expect(page.locator("#test-outcome")).to_be_visible(timeout=15_000)
        settled(page)
    assert statement_posts(workspace) == before + 1


def test_import_curl_on_another_host_applies_nothing_and_keeps_the_text(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace)
    command = "curl -X POST https://elsewhere.example.com/api/2.0/jobs/create -d '{\"a\": 1}'"
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/actions/new?connector=databricks")
        page.locator("#f-path").fill("/api/2.0/sql/warehouses")
        page.get_by_text("Import cURL").click()
        page.locator("#f-curl").fill(command)
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.locator("#error-curl")).to_contain_text("nothing was imported")
        expect(page.locator("#f-curl")).to_have_value(command)
        expect(page.locator("#f-path")).to_have_value("/api/2.0/sql/warehouses")
        expect(page.locator("#f-method")).to_have_value("GET")
        expect(page.locator(".error-summary")).to_have_count(0)  # an import is not a save

        page.locator("#f-curl").fill(f"curl '{workspace.host}/api/2.0/sql/warehouses?x=1'")
        page.get_by_role("button", name="Import", exact=True).click()
        expect(page.locator(".note").first).to_contain_text("Imported GET")
        expect(page.locator("#error-curl")).to_have_count(0)  # the stale error is gone
    assert "warehouses" not in studio.project.read_text()


def test_leaving_with_unsaved_edits_asks_first(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    seed(studio, workspace, action=True)
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/actions/list_warehouses")
        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.type)
            dialog.dismiss()

        page.on("dialog", dismiss)
        page.locator("#f-description").click()
        page.keyboard.type("Lists warehouses")
        page.get_by_role("link", name="Connectors & actions").first.click()
        wait_until(page, lambda: bool(dialogs))
        assert dialogs == ["beforeunload"]
        assert page.url.endswith("/actions/list_warehouses")
        page.get_by_role("button", name="Save action").click()
        page.wait_for_url("**/actions/list_warehouses?saved=1")
        page.get_by_role("link", name="Connectors & actions").first.click()
        page.wait_for_url(f"{studio.url}/")
        assert dialogs == ["beforeunload"]  # saved: no warning
