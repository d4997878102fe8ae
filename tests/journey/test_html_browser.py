"""The HTML journey map opened in a real browser (Playwright driving Debian's chromium) with the network cut:
it must draw the stage grid and the emotion curve, fetch nothing, and log no error."""

from __future__ import annotations

from playwright.sync_api import sync_playwright

from .conftest import cli

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def test_html_map_opens_offline_in_a_browser(demo_db, tmp_path):
    page_file = tmp_path / "journey.html"
    assert cli(f"--db={demo_db}", "map", "--export", page_file).returncode == 0
    requests, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        ctx = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_file.as_uri())
        heads = page.locator("table.grid th:not(.row)").all_inner_texts()
        assert heads == ["Awareness", "Consideration", "Decision", "Purchase", "Post-purchase", "Loyalty/Advocacy"]
        assert page.locator("svg[aria-label='emotion curve'] circle").count() >= 3
        assert page.locator("td.pain").count() >= 1  # pain points highlighted in the grid
        assert page.locator("svg[aria-label='emotion curve']").bounding_box()["width"] > 500
        page.screenshot(path=str(tmp_path / "journey.png"), full_page=True)
        browser.close()
    assert requests == [page_file.as_uri()] and errors == []
    assert (tmp_path / "journey.png").stat().st_size > 10_000
