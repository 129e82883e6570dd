"""Chromium (Debian's, never a downloaded one) driven by Playwright, against a live server and a
real qcluster worker. Every test saves screenshots of its key screens under
test-output/browser/<test>/, and the browser console log beside them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ..worker import ROOT, start_qcluster, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
OUTPUT = ROOT / "test-output" / "browser"

# Playwright's sync API runs an event loop in this thread; Django's ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: bin/test installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def worker(transactional_db, tmp_path):
    process = start_qcluster(tmp_path / "qcluster.log", NEXUS_PROGRESS_INTERVAL="0.3")
    yield process
    stop(process)


class Shots:
    """Numbered screenshots of one test; the console log is written at the end, pass or fail."""

    def __init__(self, page, folder: Path) -> None:
        self.page, self.folder, self.count, self.console = page, folder, 0, []
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)

    def finish(self) -> None:
        (self.folder / "console.log").write_text("\n".join(self.console) + "\n")


@pytest.fixture
def page(browser, request, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True,
                                  base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    tab = context.new_page()
    tab.set_default_timeout(15000)
    folder = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)
    tab.shots = Shots(tab, folder)
    yield tab
    tab.shots("last")  # kept on failure too: the screen as the test left it
    tab.shots.finish()
    context.close()


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
