"""The Studio in a real headless Chromium: the seed's flow from an empty project, a bad base URL
that loses nothing, and a visit without the login link."""

from __future__ import annotations

import stat

from playwright.sync_api import Browser, Page, expect

from lakegate.project import load_project
from lakegate.secrets import SecretStore
from lakegate.workspace import LocalWorkspace

from .conftest import RunningStudio

OUTPUT = "warehouses[].{id: id, name: name, state: state}"
# htmx swaps new content in, then wires it up a moment later ("settling"): wait for the end.
BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"


def settled(page: Page) -> None:
    expect(page.locator(BUSY)).to_have_count(0)


def test_seed_flow_from_an_empty_project(
    page: Page, studio: RunningStudio, workspace: LocalWorkspace
) -> None:
    creds = workspace.credentials
    secret = creds["client_secret"]
    expect(page.locator("h1")).to_have_text("Connectors & actions")
    page.get_by_role("link", name="New connector").click()

    # The Databricks shortcut fills the seed's fields from the workspace host (htmx swap).
    page.locator("input[name=databricks_host]").fill(workspace.host)
    page.get_by_role("button", name="Fill for Databricks").click()
    expect(page.locator("#f-token_url")).to_have_value(f"{workspace.host}/oidc/v1/token")
    expect(page.locator("#f-base_url")).to_have_value(workspace.host)
    expect(page.locator("#f-scope")).to_have_value("sql all-apis")
    expect(page.locator("#f-client_auth")).to_have_value("request_body")
    expect(page.locator("#f-grant_type")).to_have_value("client_credentials")
    settled(page)

    page.locator("#f-name").fill("databricks")
    page.locator("#f-client_id").fill(creds["client_id"])
    page.locator("#f-client_secret").fill(secret)
    page.get_by_role("button", name="Save connector").click()
    page.wait_for_url("**/connectors/databricks?saved=1")
    expect(page.locator(".flash")).to_contain_text("Saved to lakegate.yaml")
    expect(page.locator("label[for=f-client_secret] .status")).to_have_text("set")
    expect(page.locator("#f-client_secret")).to_have_value("")

    # The action: describe it, press Test, see the warehouses, save.
    page.get_by_role("link", name="New action on databricks").click()
    page.locator("#f-name").fill("list_warehouses")
    page.locator("#f-method").select_option("GET")
    page.locator("#f-path").fill("/api/2.0/sql/warehouses")
    page.get_by_role("tab", name="Output").click()
    page.locator("#f-output").fill(OUTPUT)
    assert page.evaluate("typeof htmx") == "object"
    page.evaluate("window.stillThisPage = true")
    page.locator("#test-button").click()
    panel = page.locator("#test-panel")
    expect(panel.locator("#test-status")).to_have_text("200", timeout=15_000)
    expect(panel).to_contain_text("Starter Warehouse")
    expect(panel.locator(".request-line-code")).to_contain_text(
        f"GET {workspace.host}/api/2.0/sql/warehouses"
    )
    assert "Bearer ***" in (panel.text_content() or "")  # the token is never shown
    assert panel.locator(".json details").count() > 0  # folded, highlighted JSON
    assert panel.locator(".j-str", has_text="Starter Warehouse").count() >= 1
    assert page.evaluate("window.stillThisPage") is True  # htmx swapped the panel in place
    assert not studio.project.read_text().count("list_warehouses")  # a Test writes nothing

    page.get_by_role("button", name="Save action").click()
    page.wait_for_url("**/actions/list_warehouses?saved=1")
    page.reload()
    expect(page.locator("#f-path")).to_have_value("/api/2.0/sql/warehouses")
    expect(page.locator("#f-output")).to_have_value(OUTPUT)
    page.goto(f"{studio.url}/")
    expect(page.locator("table.list")).to_have_count(2)
    expect(page.get_by_role("link", name="list_warehouses")).to_be_visible()

    text = studio.project.read_text()
    assert secret not in text
    project = load_project(studio.project)
    connector = project.connectors["databricks"]
    assert connector.base_url == workspace.host
    assert connector.auth.client_secret == "${secret:databricks_client_secret}"
    assert connector.auth.client_id == creds["client_id"]
    assert connector.auth.token_url == f"{workspace.host}/oidc/v1/token"
    assert connector.auth.scope == "sql all-apis"
    action = project.actions["list_warehouses"]
    assert (action.method, action.path, action.output) == ("GET", "/api/2.0/sql/warehouses", OUTPUT)
    store = SecretStore(project.state_dir)
    assert store.get("databricks_client_secret") == secret
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    page.goto(f"{studio.url}/copilot")
    expect(page.locator("body")).to_contain_text("list_warehouses")
    studio.assert_never_sent(secret)
    assert secret not in page.content()


def test_bad_base_url_shows_an_inline_error_and_loses_nothing(
    page: Page, studio: RunningStudio
) -> None:
    secret = "shop-secret-8f2b1c9d7e"
    page.goto(f"{studio.url}/connectors/new")
    page.locator("#f-name").fill("shop")
    page.locator("#f-description").fill("The shop API")
    page.locator("#f-base_url").fill("htp:/shop.example.com")
    page.locator("#f-client_id").fill("shop-client")
    page.locator("#f-client_secret").fill(secret)
    page.locator("#f-scope").fill("orders.read")
    page.locator("#f-token_url").fill("https://auth.example.com/oauth/token")

    # Another auth type shows its own fields; coming back finds everything typed before.
    page.locator("#f-auth_type").select_option("bearer")
    expect(page.locator("#f-token")).to_be_visible()
    expect(page.locator("#f-client_id")).to_have_count(0)
    settled(page)
    page.locator("#f-auth_type").select_option("oauth2")
    expect(page.locator("#f-client_id")).to_have_value("shop-client")
    settled(page)

    page.get_by_role("button", name="Save connector").click()
    error = page.locator("#error-base_url")
    expect(error).to_contain_text("not an http(s) URL")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#f-name")).to_have_value("shop")
    expect(page.locator("#f-description")).to_have_value("The shop API")
    expect(page.locator("#f-base_url")).to_have_value("htp:/shop.example.com")
    expect(page.locator("#f-client_id")).to_have_value("shop-client")
    expect(page.locator("#f-scope")).to_have_value("orders.read")
    expect(page.locator("#f-token_url")).to_have_value("https://auth.example.com/oauth/token")
    # The secret is not echoed back, yet kept for this form until it is saved.
    expect(page.locator("#f-client_secret")).to_have_value("")
    expect(page.locator("label[for=f-client_secret] .status")).to_have_text("new value entered")
    settled(page)
    assert not studio.project.exists()

    page.locator("#f-base_url").fill("https://shop.example.com/api")
    page.get_by_role("button", name="Save connector").click()
    page.wait_for_url("**/connectors/shop?saved=1")
    connector = load_project(studio.project).connectors["shop"]
    assert connector.base_url == "https://shop.example.com/api"
    assert connector.auth.client_secret == "${secret:shop_client_secret}"
    assert SecretStore(studio.project.parent / ".lakegate").get("shop_client_secret") == secret
    assert secret not in studio.project.read_text()
    studio.assert_never_sent(secret)


def test_a_browser_without_the_login_link_is_refused(
    browser: Browser, studio: RunningStudio
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"{studio.url}/connectors/new")
        assert response is not None and response.status == 401
        expect(page.locator("h1")).to_have_text("Sign in with your link")
        expect(page.locator("body")).to_contain_text("lakegate studio")
        assert page.locator("form").count() == 0
        # A spent login link opens nothing either.
        link = studio.login_url()
        assert page.goto(link).status == 200  # redirected to the overview
        other = context.browser.new_context() if context.browser else None
        assert other is not None
        try:
            assert other.new_page().goto(link).status == 401
        finally:
            other.close()
    finally:
        context.close()
