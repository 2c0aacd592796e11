"""Regenerate the Studio screenshots in this folder: `uv run python docs/img/make_screenshots.py`.

Starts a local workspace and the Studio over a throwaway project, fills the seed's connector
and the `list_warehouses` action in headless Chromium, presses Test, and saves PNGs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

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


def main() -> None:
    chromium = os.environ.get("LAKEGATE_CHROMIUM") or shutil.which("chromium")
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalWorkspace(warehouse_delays=0.1) as ws,
        StudioServer(Path(tmp) / "lakegate.yaml") as studio,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=2)
        page.goto(studio.login_url())
        page.goto(f"{studio.url}/connectors/new")
        page.locator("input[name=databricks_host]").fill(ws.host)
        page.get_by_role("button", name="Fill for Databricks").click()
        expect(page.locator("#f-token_url")).to_have_value(f"{ws.host}/oidc/v1/token")
        page.locator("#f-name").fill("databricks")
        page.locator("#f-description").fill("Local workspace (lakegate workspace serve)")
        page.locator("#f-client_id").fill(ws.credentials["client_id"])
        page.locator("#f-client_secret").fill(ws.credentials["client_secret"])
        page.get_by_role("button", name="Save connector").click()
        page.wait_for_url("**/connectors/databricks?saved=1")
        page.screenshot(path=HERE / "studio-connector.png", full_page=True)

        page.goto(f"{studio.url}/actions/new?connector=databricks")
        page.locator("#f-name").fill("list_warehouses")
        page.locator("#f-description").fill(
            "List the SQL warehouses this service principal can manage."
        )
        page.locator("#f-path").fill("/api/2.0/sql/warehouses")
        page.get_by_role("tab", name="Output").click()
        page.locator("#f-output").fill("warehouses[].{id: id, name: name, state: state}")
        page.locator("#test-button").click()
        expect(page.locator("#test-status")).to_have_text("200", timeout=15_000)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=HERE / "studio-test.png", full_page=False)
        page.get_by_role("button", name="Save action").click()
        page.wait_for_url("**/actions/list_warehouses?saved=1")
        page.goto(f"{studio.url}/")
        page.screenshot(path=HERE / "studio-overview.png", full_page=True)
        browser.close()
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("studio-*.png"))))


if __name__ == "__main__":
    main()
