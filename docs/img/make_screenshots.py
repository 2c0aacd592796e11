"""Regenerate the Studio screenshots in this folder: `uv run python docs/img/make_screenshots.py`.

Starts a local workspace and the Studio over a throwaway project, fills the seed's connector
and the `list_warehouses` action in headless Chromium, presses Test connection and Test, and
saves PNGs at a desktop width (1280 px) and a phone width (390 px).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from lakegate.studio import StudioServer
from lakegate.workspace import LocalWorkspace

HERE = Path(__file__).parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = "warehouses[].{id: id, name: name, state: state}"
BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"


def settle(page: Page) -> None:
    expect(page.locator(BUSY)).to_have_count(0)


def build(page: Page, studio: StudioServer, ws: LocalWorkspace) -> None:
    """The seed flow: the connector from the Databricks shortcut, then the action."""
    page.goto(f"{studio.url}/connectors/new")
    page.locator("#f-databricks_host").fill(ws.host)
    page.locator("#f-databricks_host").press("Enter")
    expect(page.locator("#f-token_url")).to_have_value(f"{ws.host}/oidc/v1/token")
    settle(page)
    page.locator("#f-name").fill("databricks")
    page.locator("#f-description").fill("Local workspace (lakegate workspace serve)")
    page.locator("#f-client_id").fill(ws.credentials["client_id"])
    page.locator("#f-client_secret").fill(ws.credentials["client_secret"])
    page.get_by_role("button", name="Save connector").click()
    page.wait_for_url("**/connectors/databricks?saved=1")
    page.goto(f"{studio.url}/actions/new?connector=databricks")
    page.locator("#f-name").fill("list_warehouses")
    page.locator("#f-description").fill(
        "List the SQL warehouses this service principal can manage."
    )
    page.locator("#f-path").fill("/api/2.0/sql/warehouses")
    page.get_by_role("tab", name="Output").click()
    page.locator("#f-output").fill(OUTPUT)
    page.get_by_role("button", name="Save action").click()
    page.wait_for_url("**/actions/list_warehouses?saved=1")


def shoot(page: Page, studio: StudioServer, suffix: str) -> None:
    page.goto(f"{studio.url}/connectors/databricks")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result .badge")).to_have_text("Connected", timeout=20_000)
    settle(page)
    page.screenshot(path=HERE / f"studio-connector{suffix}.png", full_page=True)

    page.goto(f"{studio.url}/actions/list_warehouses")
    page.get_by_role("tab", name="Output").click()
    page.locator("#test-button").click()
    expect(page.locator("#test-status")).to_have_text("200", timeout=15_000)
    settle(page)
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    page.screenshot(path=HERE / f"studio-test{suffix}.png", full_page=True)
    page.goto(f"{studio.url}/")
    page.screenshot(path=HERE / f"studio-overview{suffix}.png", full_page=True)
    page.goto(f"{studio.url}/copilot")
    page.screenshot(path=HERE / f"studio-copilot{suffix}.png", full_page=True)


def main() -> None:
    chromium = os.environ.get("LAKEGATE_CHROMIUM") or shutil.which("chromium")
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalWorkspace(warehouse_delays=0.1) as ws,
        StudioServer(Path(tmp) / "lakegate.yaml") as studio,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        desktop = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=2)
        desktop.goto(studio.login_url())
        build(desktop, studio, ws)
        shoot(desktop, studio, "")
        phone = browser.new_page(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
        )
        phone.goto(studio.login_url())
        shoot(phone, studio, "-phone")
        browser.close()
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("studio-*.png"))))


if __name__ == "__main__":
    main()
