"""The report of a fixture store in a real headless browser (Debian's Chromium through Selenium): at 1,280 px
nothing overflows horizontally, with every collapsible section open. Without the browser the test is skipped
with one line saying what to install (CI installs it: ``.ci/run``)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from benchmark.pipeline.suites import load_suite
from benchmark.report.html import write_report
from benchmark.store.db import ResultStore
from benchmark.store.frame import load_results
from tests.report_frames import SEEDS, TAUS, row, suite_frame

WIDTH = 1280
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  f"--window-size={WIDTH},900")
OVERFLOW = """
document.querySelectorAll('details').forEach(d => d.open = true);
const width = document.documentElement.clientWidth;
const out = [];
if (document.documentElement.scrollWidth > width) out.push('page: ' + document.documentElement.scrollWidth);
for (const el of document.querySelectorAll('body *')) {
  const box = el.getBoundingClientRect();
  if (box.width && box.right > width + 1) out.push(el.tagName + ' right edge at ' + Math.round(box.right));
  if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
    out.push(el.tagName + ' scrolls: ' + el.scrollWidth + ' > ' + el.clientWidth);
}
return [width, out.slice(0, 10)];
"""


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium at 1,280 px, or a one-line skip naming what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield session
    session.quit()


def full_frame() -> pd.DataFrame:
    """Every stage of the synthetic suite, with prune rows (per-layer counts, score levels) and the ticket cost."""
    prune = [row("prune", "mip", f"tau={TAUS[0]}", seed, neurons_removed=0.5, params_removed=0.6,
                 **{"kept.fc1": 30 + seed, "kept.fc2": 10, "sizes.fc1": 300, "sizes.fc2": 100,
                    "score_levels.fc1.zero": 5, "score_levels.fc1.between": 20, "score_levels.fc1.one": 75,
                    "options.loss": "margin", "options.time_limit": 120.0}) for seed in SEEDS]
    frame = pd.concat([suite_frame(), pd.DataFrame(prune)], ignore_index=True)
    evaluate = frame["stage"] == "evaluate"
    frame.loc[evaluate, ["compacted_parameters", "macs", "latency_speedup_b1", "throughput_speedup_b256"]] = [
        395017, 394824, 1.44, 1.99]
    return frame


def stored(frame: pd.DataFrame, root) -> pd.DataFrame:
    """``frame`` written into a results store under ``root`` and read back as the report reads a store."""
    store = ResultStore(root)
    for i, record in enumerate(frame.to_dict("records")):
        record = {key: value for key, value in record.items() if not (isinstance(value, float) and value != value)}
        stage, status = record.pop("stage"), record.pop("status")
        store.put(f"{i:016x}", stage, record, wall_seconds=1.0, status=status, suites=["smoke"])
    return load_results(root, "smoke")


def test_nothing_overflows_horizontally_at_1280_px(browser, tmp_path):
    page = write_report(stored(full_frame(), tmp_path / "store"), load_suite("smoke"), tmp_path / "report")
    browser.get(page.as_uri())
    width, overflowing = browser.execute_script(OVERFLOW)
    assert width <= WIDTH and overflowing == []
    assert browser.find_element("tag name", "h2").text == "At a glance"


def test_the_check_sees_a_table_too_wide_for_the_page(browser, tmp_path):
    """The overflow check itself can fail: a table of long unbreakable cells sticks out."""
    page = tmp_path / "wide.html"
    page.write_text("<!DOCTYPE html><html><body><table><tr>" + "<td>" + "x" * 400 + "</td>" * 1 + "</tr></table>"
                    "</body></html>", encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.execute_script(OVERFLOW)[1]
