"""static/tables.js: a table.sortable sorts by a click on its header (aria-sort says how), numbers by value; an
input[data-filter-for] hides the rows without its text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

TABLE = """
<input type="search" id="f" aria-label="filter" data-filter-for="t"> <span data-filter-count="t"></span>
<table class="list sortable" id="t">
  <thead><tr><th>名称</th><th class="num" data-sort="num">金额</th><th class="nosort">操作</th></tr></thead>
  <tbody>
    <tr><td>乙</td><td class="num" data-value="1000000">¥10,000.00</td><td>a</td></tr>
    <tr><td>甲</td><td class="num" data-value="90000">¥900.00</td><td>b</td></tr>
    <tr><td>丙</td><td class="num" data-value="250000">¥2,500.00</td><td>c</td></tr>
  </tbody>
</table>"""


def _first_column(page: Page) -> list[str]:
    return page.locator("#t tbody tr:not([hidden]) td:first-child").all_inner_texts()


def test_sortable_and_filterable_tables(page: Page):
    page.goto("/login")
    page.evaluate("html => { document.querySelector('main').innerHTML = html; smartbankTables.init(); }", TABLE)
    amount = page.locator("#t th").nth(1)
    expect(amount).to_have_attribute("aria-sort", "none")
    assert page.locator("#t th").nth(2).locator("button").count() == 0  # nosort
    amount.locator("button").click()
    expect(amount).to_have_attribute("aria-sort", "ascending")
    assert _first_column(page) == ["甲", "丙", "乙"]  # 900 < 2,500 < 10,000: by value, not by text
    amount.locator("button").press("Enter")  # by keyboard too
    expect(amount).to_have_attribute("aria-sort", "descending")
    assert _first_column(page) == ["乙", "丙", "甲"]
    page.fill("#f", "2,500")
    assert _first_column(page) == ["丙"]
    expect(page.locator("[data-filter-count=t]")).to_have_text("1 / 3")
