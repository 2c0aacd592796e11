"""Point 7: every page fits a 390 px phone without sideways scrolling, passes axe-core's WCAG 2.1
A/AA rules (contrast, labels, ARIA), shows a visible focus ring, marks required fields and links
help text, and a connector and an action can be created with the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from lakegate.copilot.audit import AuditLog, call_record
from lakegate.project import load_project
from lakegate.workspace import LocalWorkspace

from .browsing import (
    OUTPUT,
    axe_violations,
    overflow,
    pixels_apart,
    seed,
    settled,
    signed_in,
    words_split_across_lines,
)
from .conftest import RunningStudio


def visit_every_page(page: Page, studio: RunningStudio) -> Iterator[str]:
    """Each page in the states worth seeing (a Test result, a failed save, a refusal, ...)."""
    url = studio.url
    for path in ("/", "/connectors/new", "/connectors/databricks", "/actions/new",
                 "/copilot"):  # fmt: skip
        page.goto(url + path)
        yield path
    page.goto(f"{url}/actions/list_warehouses")
    page.locator("#test-button").click()
    expect(page.locator("#test-status")).to_have_text("200", timeout=15_000)
    settled(page)
    yield "/actions/list_warehouses (tested)"
    page.goto(f"{url}/connectors/databricks")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result .badge")).to_be_visible(timeout=20_000)
    settled(page)
    yield "/connectors/databricks (tested)"
    page.goto(f"{url}/actions/new")
    page.get_by_role("button", name="Save action").click()
    expect(page.locator(".error-summary")).to_be_visible()
    settled(page)
    yield "/actions/new (errors)"
    page.goto(f"{url}/connectors/new")
    page.locator("#f-base_url").fill("https://a-very-long-host-name.example.com/" + "x" * 120)
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'stale'")
    page.evaluate("document.querySelector('#connector-form').removeAttribute('hx-post')")
    page.evaluate("htmx.process(document.body)")
    page.evaluate("document.querySelector('#connector-form').submit()")
    expect(page.locator(".refused")).to_be_visible()
    yield "refusal page"


@pytest.fixture
def seeded(studio: RunningStudio, workspace: LocalWorkspace) -> RunningStudio:
    seed(studio, workspace, action=True)
    log = AuditLog.for_project(load_project(studio.project))
    log.write(call_record(client={"name": "claude-code"}, tool="list_warehouses", arguments={},
                          outcome="refused", elapsed_ms=0.4,
                          error={"code": "policy.refused", "message": "not exposed"}))  # fmt: skip
    return studio


def test_no_page_scrolls_sideways_on_a_390px_phone(browser: Browser, seeded: RunningStudio) -> None:
    seen = []
    with signed_in(browser, seeded, width=390, height=844) as page:
        for where in visit_every_page(page, seeded):
            assert overflow(page) <= 0, f"{where} is {overflow(page)} px too wide"
            seen.append(where)
    assert len(seen) == 9


def test_no_word_is_broken_in_the_middle_on_a_390px_phone(
    browser: Browser, seeded: RunningStudio
) -> None:
    # `word-break: break-all` on the connector's facts split "client credential|s" over two lines.
    broken = {}
    with signed_in(browser, seeded, width=390, height=844) as page:
        for where in visit_every_page(page, seeded):
            if split := words_split_across_lines(page):
                broken[where] = split
    assert not broken, broken


def test_underscores_in_placeholders_show_at_1x(browser: Browser, seeded: RunningStudio) -> None:
    """The same field with its placeholder's underscores turned to spaces looks different.

    Chromium clipped the placeholder to its line box, so at 1x `page_size` read `page size`."""
    seen: dict[str, int] = {}
    with signed_in(browser, seeded, device_scale_factor=1) as page:
        for path in ("/actions/new", "/connectors/new"):
            page.goto(seeded.url + path)
            fields = "input[placeholder*='_']:visible, textarea[placeholder*='_']:visible"
            for field in page.locator(fields).element_handles():
                example = field.get_attribute("placeholder") or ""
                shown = field.screenshot()
                field.evaluate("f => f.placeholder = f.placeholder.replaceAll('_', ' ')")
                seen[example] = pixels_apart(browser, shown, field.screenshot())
                field.evaluate("(f, p) => f.placeholder = p", example)
    assert "page_size" in seen and "e.g. list_warehouses" in seen, seen
    assert all(n >= 4 for n in seen.values()), seen


def test_axe_core_finds_no_wcag_aa_problem(browser: Browser, seeded: RunningStudio) -> None:
    found: dict[str, list[str]] = {}
    for width in (1280, 390):
        with signed_in(browser, seeded, width=width, height=900) as page:
            for where in visit_every_page(page, seeded):
                problems = axe_violations(page)
                if problems:
                    found[f"{where} @{width}px"] = problems
    assert not found, found


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_focus_is_visible_and_fields_say_what_they_need(
    browser: Browser, studio: RunningStudio
) -> None:
    with signed_in(browser, studio) as page:
        page.goto(f"{studio.url}/connectors/new")
        name = page.locator("#f-name")
        expect(name).to_have_attribute("required", "")
        expect(name).to_have_attribute("aria-required", "true")
        expect(page.locator("#f-base_url")).to_have_attribute("aria-required", "true")
        described = name.get_attribute("aria-describedby") or ""
        assert "help-name" in described.split()
        expect(page.locator("#help-name")).to_contain_text("Letters, digits")
        page.keyboard.press("Tab")  # the skip link
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        # A swap (another auth type shows other fields) keeps the focus where the user was.
        page.locator("#f-auth_type").focus()
        page.keyboard.press("ArrowDown")  # OAuth 2.0 -> API key
        expect(page.locator("#f-header")).to_be_visible()
        settled(page)
        expect(page.locator("#f-auth_type")).to_be_focused()
        name.focus()
        ring = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; })()"
        )
        style, width, color = ring
        assert style != "none" and width >= 2
        rgb = tuple(int(x) for x in color[color.index("(") + 1 : color.index(")")].split(",")[:3])
        contrast = (1.05) / (luminance(rgb) + 0.05)  # against the white page around the field
        assert contrast >= 3, (color, contrast)


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_a_connector_and_an_action_created_with_the_keyboard_alone(
    browser: Browser, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    creds = workspace.credentials
    with signed_in(browser, studio) as page:
        tab_to(page, "a[href='/connectors/new']")
        page.keyboard.press("Enter")
        page.wait_for_url("**/connectors/new")
        tab_to(page, "#f-databricks_host")
        page.keyboard.type(workspace.host)
        page.keyboard.press("Enter")  # Fill
        expect(page.locator("#f-token_url")).to_have_value(f"{workspace.host}/oidc/v1/token")
        settled(page)
        for field, value in (("#f-name", "databricks"), ("#f-client_id", creds["client_id"]),
                             ("#f-client_secret", creds["client_secret"])):  # fmt: skip
            tab_to(page, field)
            page.keyboard.type(value)
        tab_to(page, "button[value=save].primary")
        page.keyboard.press("Enter")
        page.wait_for_url("**/connectors/databricks?saved=1")

        tab_to(page, "a[href='/actions/new?connector=databricks']")
        page.keyboard.press("Enter")
        page.wait_for_url("**/actions/new?connector=databricks")
        tab_to(page, "#f-name")
        page.keyboard.type("list_warehouses")
        tab_to(page, "#f-path")
        page.keyboard.type("/api/2.0/sql/warehouses")
        tab_to(page, "[role=tab][aria-selected=true]")
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        expect(page.get_by_role("tab", name="Output")).to_be_focused()
        tab_to(page, "#f-output")
        page.keyboard.type(OUTPUT)
        tab_to(page, "#test-button")
        page.keyboard.press("Enter")
        expect(page.locator("#test-status")).to_have_text("200", timeout=15_000)
        expect(page.locator("#test-outcome")).to_be_focused()
        settled(page)
        tab_to(page, "button[value=save].primary")
        page.keyboard.press("Enter")
        page.wait_for_url("**/actions/list_warehouses?saved=1")
    action = load_project(studio.project).actions["list_warehouses"]
    assert (action.path, action.output) == ("/api/2.0/sql/warehouses", OUTPUT)
