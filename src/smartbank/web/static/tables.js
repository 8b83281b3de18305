/* Tables that sort and filter in the browser, with no dependency and no build step.

   - Any table.sortable: every header cell gets a button; clicking it sorts the rows of the first tbody by that
     column (again: the other way) and sets aria-sort on the header cell. th[data-sort="num"] compares numbers
     (a td's data-value, else its text with everything but digits, "-" and "." removed); other columns compare
     text in the page's language. th.nosort keeps a column as it is.
   - Any <input data-filter-for="ID">: typing hides the rows of table#ID whose text does not contain what was
     typed (case-insensitive); an element with data-filter-count="ID" says how many rows are shown.
   - Paging stays on the server (templates/_pager.html): these work on the rows of the page shown. */
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) return numeric ? -Infinity : "";
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
    if (!numeric) return raw.trim();
    var n = parseFloat(String(raw).replace(/[^0-9.\-]/g, ""));
    return isNaN(n) ? -Infinity : n;
  }

  function sortBy(table, th, index) {
    var body = table.tBodies[0];
    if (!body) return;
    var numeric = th.getAttribute("data-sort") === "num";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      var c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : collator.compare(x, y);
      return ascending ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
      if (other !== th && other.hasAttribute("aria-sort")) other.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function makeSortable(table) {
    if (!table.tHead || !table.tHead.rows.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      if (th.classList.contains("nosort") || !th.textContent.trim()) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () { sortBy(table, th, index); });
    });
  }

  function makeFilter(input) {
    var table = document.getElementById(input.getAttribute("data-filter-for"));
    if (!table || !table.tBodies[0]) return;
    var counter = document.querySelector('[data-filter-count="' + table.id + '"]');
    function apply() {
      var needle = input.value.trim().toLowerCase();
      var shown = 0, rows = table.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (row) {
        var hit = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
        row.hidden = !hit;
        if (hit) shown += 1;
      });
      if (counter) counter.textContent = shown + " / " + rows.length;
    }
    input.addEventListener("input", apply);
    apply();
  }

  function init(root) {
    var scope = root || document;
    Array.prototype.forEach.call(scope.querySelectorAll("table.sortable:not([data-sortable])"), function (t) {
      t.setAttribute("data-sortable", "");
      makeSortable(t);
    });
    Array.prototype.forEach.call(scope.querySelectorAll("input[data-filter-for]:not([data-filtering])"), function (i) {
      i.setAttribute("data-filtering", "");
      makeFilter(i);
    });
  }

  // for content added after the page loaded: smartbankTables.init(element)
  window.smartbankTables = { init: init };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(); });
  else init();
})();
