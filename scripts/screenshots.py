"""Screenshots of every dashboard page on the demo clinic, for the README (docs/screenshots/).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

The demo clinic is the quickstart's (org_demo, 2,000 generated patients, seed 1), loaded
into a temporary SQLite database with the clock pinned, so the pictures only change when
the product does. Needs /usr/bin/chromium (./scripts/ensure-chromium).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from reengage import clock, quickstart
from reengage.app import create_app
from reengage.config import Settings
from reengage.db.engine import make_engine

PINNED = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # a Tuesday, 5 pm in Sydney
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--port", type=int, default=8799)
    out: Path = parser.parse_args().out
    port: int = parser.parse_args().port
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, clock.frozen_at(PINNED):
        url = f"sqlite:///{tmp}/demo.db"
        key = quickstart.prepare(url, Path(tmp) / "key")
        engine = make_engine(url)
        app = create_app(Settings(database_url=url), engine)
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            _shoot(f"http://127.0.0.1:{port}", key, out)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()


def _shoot(base: str, key: str, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/sign-in")
        page.screenshot(path=out / "sign-in.png")
        page.get_by_label("Your clinic's API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")
        page.screenshot(path=out / "overview.png", full_page=True)
        page.goto(f"{base}/patients?limit=25")
        page.screenshot(path=out / "call-list.png")
        page.goto(f"{base}/patients?target=this_week")
        page.screenshot(path=out / "week-target.png", full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{base}/patients?limit=25")
        phone.evaluate("document.querySelector('.list-summary').scrollIntoView()")
        phone.screenshot(path=out / "call-list-phone.png")
        phone.close()
        page.locator("table.call-list tbody tr th a").first.click()
        page.wait_for_load_state()
        page.screenshot(path=out / "patient.png", full_page=True)
        page.goto(f"{base}/performance")
        page.screenshot(path=out / "performance.png", full_page=True)
        page.goto(f"{base}/trends?period=90d")
        page.screenshot(path=out / "trends.png", full_page=True)
        page.goto(f"{base}/trends?period=1y")
        page.screenshot(path=out / "trends-year.png", full_page=True)
        browser.close()
    for name in sorted(out.glob("*.png")):
        print(name)


if __name__ == "__main__":
    main()
