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
    MERGE_X,
    MERGE_X_RECIPE,
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


def test_zoom_pan_colours_widths_and_the_side_panel(driver: Any, page: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    load(driver, page)

    def transform() -> str:
        return str(driver.find_element(By.ID, "viewport").get_attribute("transform"))

    def scale() -> float:
        return float(transform().split("scale(")[1].rstrip(")"))

    before = scale()
    driver.find_element(By.ID, "zoom-in").click()
    assert scale() == pytest.approx(before * 1.25)
    moved = transform()
    graph = driver.find_element(By.ID, "graph")
    ActionChains(driver).move_to_element_with_offset(
        graph, -300, 200
    ).click_and_hold().move_by_offset(120, 60).release().perform()
    assert transform() != moved and scale() == pytest.approx(before * 1.25)
    driver.find_element(By.ID, "fit").click()
    assert scale() == pytest.approx(before)

    # Edge width follows kinship: the two measured edges are wider than the rest.
    widths = driver.execute_script(
        "return Array.from(document.querySelectorAll('.edge')).map("
        "e => [e.classList.contains('unmeasured'), parseFloat(e.getAttribute('stroke-width'))])"
    )
    measured = sorted(w for unmeasured, w in widths if not unmeasured)
    assert measured == [pytest.approx(1.5 + 7 * 0.3), pytest.approx(1.5 + 7 * 0.8)]
    assert {w for unmeasured, w in widths if unmeasured} == {1.5}
    # Colour by relation: edges take their relation's colour; the legend dims the others.
    colours = driver.execute_script(
        "return Array.from(document.querySelectorAll('.edge')).map("
        "e => e.dataset.relation + ' ' + e.getAttribute('stroke'))"
    )
    assert len({c for c in colours if c.startswith("merge ")}) == 1
    assert len({c.split()[1] for c in colours}) == 3  # merge, finetune, quantized
    legend = {b.text: b for b in driver.find_elements(By.CSS_SELECTOR, ".legend-item")}
    legend["quantized"].click()
    dimmed = driver.execute_script("return document.querySelectorAll('.edge.dim').length")
    assert dimmed == 11  # every edge but the one quantized edge
    legend["quantized"].click()
    assert driver.execute_script("return document.querySelectorAll('.dim').length") == 0

    # Clicking a model opens its facts, parents, children and recipe.
    node = driver.find_element(By.CSS_SELECTOR, f'.node[data-id="{MERGE_X}"]')
    driver.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node
    )
    assert driver.find_element(By.CSS_SELECTOR, "#panel h2").text == MERGE_X
    panel = driver.find_element(By.ID, "panel").text
    assert "cc-by-nc-4.0" not in panel  # the panel shows merge-x's own facts
    assert "apache-2.0" in panel and "dare_ties" in panel and "cs 0.800" in panel
    assert MERGE_X_RECIPE.strip().splitlines()[0] in panel
    assert console_errors(driver) == []
