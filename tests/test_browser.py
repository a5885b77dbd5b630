"""bundle serve in a real browser: Debian's headless chromium driven by selenium.

Clicks through the school's day: open the page, see update 2 on the stick, apply it
with progress, see the edit conflict and resolve it, search and read a page, edit
it, write the return bundle to the stick; then hq applies that return and holds
both edits. A screenshot of each step goes to the test's temp folder (shots/).
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from serve_world import OFFLINE_LINE, ONLINE_LINE, school_with_stick

CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMEDRIVER),
                                reason="needs Debian's chromium-driver (apt-get install chromium chromium-driver; .ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """The school's page on 127.0.0.1 (uvicorn in a thread), and the world behind it."""
    import uvicorn

    from bundler.web.app import create_app

    world = school_with_stick(str(tmp_path / "w"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(world.school.path, inbox=world.inbox), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield world, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=900,1200", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_a_day_at_the_school_in_a_browser(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    world, base = served
    shots = tmp_path / "shots"
    shots.mkdir()
    n = 0

    def shot(name: str) -> None:
        nonlocal n
        n += 1
        browser.save_screenshot(str(shots / f"{n:02d}-{name}.png"))

    def wait_for(css: str, timeout: float = 30):
        return WebDriverWait(browser, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def click(css: str) -> None:
        browser.find_element(By.CSS_SELECTOR, css).click()

    # The start page says a bundle is waiting on the stick.
    browser.get(base + "/")
    assert "1 bundle on the stick" in wait_for("#stick-ready").text
    shot("home")
    click("#nav-sync")
    section = wait_for("section.bundle.applies")
    assert "An update (bundle 2) from hq" in section.text and "EDIT CONFLICT" in section.text
    shot("stick")

    # Apply, with the progress page polling the job until it is done.
    click("section.bundle.applies button.apply")
    wait_for("progress#job-progress")
    shot("applying")
    applied = wait_for("#applied", 60)
    assert "Applied bundle 2" in applied.text
    assert "EDIT CONFLICT" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot("applied")

    # The conflict: both texts side by side; resolve it from the offline text.
    click("#see-conflicts")
    wait_for("#conflict-list a").click()
    wait_for("table.diff")
    assert ONLINE_LINE in browser.page_source and OFFLINE_LINE in browser.page_source
    shot("conflict")
    click("#take-offline")
    box = browser.find_element(By.ID, "wpTextbox1")
    assert box.get_attribute("value").startswith(OFFLINE_LINE)
    box.send_keys("\nBoth lists are kept.")
    browser.find_element(By.ID, "wpUser").send_keys("Teacher")
    click("#wpSave")
    wait_for("#firstHeading")
    assert OFFLINE_LINE in browser.find_element(By.CSS_SELECTOR, "article.wikitext").text
    shot("resolved")

    # Search, read, edit.
    search = browser.find_element(By.CSS_SELECTOR, "header form.search input")
    search.send_keys("Delmar")
    search.submit()
    wait_for("ol.hits a")
    shot("search")
    browser.find_element(By.LINK_TEXT, "Delmar Restaurant").click()
    assert wait_for("#firstHeading").text == "Delmar Restaurant"
    assert browser.find_elements(By.CSS_SELECTOR, ".template")  # {{Place ...}} drawn as a box
    shot("page")
    click("#tab-edit")
    box = wait_for("#wpTextbox1")
    box.send_keys("\n\nOpen on Sundays since 2022 (the school's visit).")
    browser.find_element(By.ID, "wpSummary").send_keys("opening days")
    user = browser.find_element(By.ID, "wpUser")
    assert user.get_attribute("value") == "Teacher"  # remembered from the merge
    click("#wpSave")
    assert "Open on Sundays" in wait_for("article.wikitext").text
    shot("edited")

    # The return bundle, written to the stick.
    click("#nav-sync")
    assert "opening days" in wait_for("#waiting").text
    click("#write-return")
    written = wait_for("#return-written", 60)
    assert "2 revisions on 2 pages" in written.text
    shot("return-written")
    name = written.find_element(By.TAG_NAME, "b").text

    # At hq, the return lands both edits.
    res = world.hq_applies(os.path.join(world.inbox, name))
    assert res.revisions_added == 2 and not res.conflicts
    assert world.text(world.hq, "Delmar Restaurant").endswith("Open on Sundays since 2022 (the school's visit).")
    assert world.text(world.hq, "Other Sites").startswith(OFFLINE_LINE)
    assert len(list(shots.iterdir())) == n == 10
