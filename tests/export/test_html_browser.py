"""The HTML page in headless Chromium: offline from file://, drawn, searchable, inert to markup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kinhub.db.engine import open_database

from tests.export.browser import chromium_driver, console_errors, png_pixels, requested_urls
from tests.export.conftest import Kinhub
from tests.export.family import (
    HOSTILE,
    HOSTILE_LICENSE,
    HOSTILE_RECIPE,
    HOSTILE_REF,
    MERGE_Y,
    RESOLVED_IDS,
    write_family,
)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    yield from chromium_driver()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    url = f"sqlite:///{folder / 'family.db'}"
    database = open_database(url)
    write_family(database)
    database.dispose()
    target = folder / "family.html"
    Kinhub(url).ok("export", "--format", "html", "-o", str(target))
    return target


def load(driver: Any, page: Path) -> None:
    driver.get_log("browser")  # drop what earlier tests left
    driver.get_log("performance")
    driver.get(page.as_uri())
    assert driver.execute_script("return document.body.dataset.ready") == "true"


def test_page_loads_offline_without_errors_and_draws_the_graph(driver: Any, page: Path) -> None:
    load(driver, page)
    assert console_errors(driver) == []
    assert requested_urls(driver) == [page.as_uri()]  # the page itself, nothing else
    assert (
        driver.execute_script("return document.querySelectorAll('.node').length")
        == len(RESOLVED_IDS) + 1
    )
    assert driver.execute_script("return document.querySelectorAll('.edge').length") == 12

    width, height, pixels = png_pixels(driver.get_screenshot_as_png())
    colours = Counter(pixels)
    _background, count = colours.most_common(1)[0]
    assert len(colours) > 50  # text, coloured edges, boxes — not a blank page
    assert count < 0.97 * width * height


def test_search_selects_a_model(driver: Any, page: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(driver, page)
    search = driver.find_element(By.ID, "search")
    search.send_keys("merge-y", Keys.ENTER)
    selected = driver.find_elements(By.CSS_SELECTOR, ".node.selected")
    assert [s.get_attribute("data-id") for s in selected] == [MERGE_Y]
    assert driver.find_element(By.CSS_SELECTOR, "#panel h2").text == MERGE_Y
    search.clear()
    search.send_keys("no-such-model", Keys.ENTER)
    assert driver.find_element(By.ID, "search-status").text == "no model matches"
    assert console_errors(driver) == []


def test_hostile_names_and_cards_stay_text(driver: Any, page: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load(driver, page)
    search = driver.find_element(By.ID, "search")
    search.send_keys("window.__pwned=1", Keys.ENTER)
    panel_title = driver.execute_script("return document.querySelector('#panel h2').textContent")
    assert panel_title == HOSTILE_REF

    search.clear()
    search.send_keys(HOSTILE, Keys.ENTER)
    panel = driver.execute_script("return document.getElementById('panel').textContent")
    assert HOSTILE_LICENSE in panel
    recipe = driver.execute_script("return document.querySelector('#panel pre').textContent")
    assert recipe == HOSTILE_RECIPE
    # Nothing from the data ran or became an element.
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.execute_script("return document.querySelectorAll('img, b').length") == 0
    assert driver.execute_script("return document.scripts.length") == 2
    assert console_errors(driver) == []
    assert "<script>window" not in page.read_text(encoding="utf-8")
