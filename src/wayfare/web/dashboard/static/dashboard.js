// wayfare dashboard: tooltips on chart marks, sortable tables, CSV export (safe from formula
// injection), SVG downloads, the workspace switcher and confirmations. Hand-written, no library.
(function () {
  "use strict";

  // ---- tooltips: any element with data-tip, on hover and on keyboard focus
  var tip = document.createElement("div");
  tip.id = "tip";
  tip.setAttribute("role", "tooltip");
  document.body.appendChild(tip);
  function showTip(el, x, y) {
    tip.textContent = el.getAttribute("data-tip");
    tip.classList.add("on");
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(4, Math.min(window.innerWidth - w - 4, x - w / 2)) + "px";
    tip.style.top = Math.max(4, y - h - 12) + "px";
  }
  function hideTip() { tip.classList.remove("on"); }
  document.addEventListener("mousemove", function (e) {
    var el = e.target.closest && e.target.closest("[data-tip]");
    if (el) { showTip(el, e.clientX, e.clientY); } else { hideTip(); }
  });
  document.addEventListener("focusin", function (e) {
    var el = e.target.closest && e.target.closest("[data-tip]");
    if (el) { var r = el.getBoundingClientRect(); showTip(el, r.left + r.width / 2, r.top); }
  });
  document.addEventListener("focusout", hideTip);

  // ---- CSV: a cell that starts with = + - @ tab or CR is prefixed with ' so spreadsheets do not run it
  function csvCell(v) {
    var s = String(v == null ? "" : v);
    if (/^[=+\-@\t\r]/.test(s)) { s = "'" + s; }
    if (/[",\n\r]/.test(s)) { s = '"' + s.replace(/"/g, '""') + '"'; }
    return s;
  }
  window.wayfareCsvCell = csvCell;
  function tableCsv(table) {
    var lines = [];
    table.querySelectorAll("tr").forEach(function (tr) {
      var cells = [];
      tr.querySelectorAll("th, td").forEach(function (c) {
        cells.push(csvCell(c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent.trim()));
      });
      lines.push(cells.join(","));
    });
    return lines.join("\r\n") + "\r\n";
  }
  window.wayfareTableCsv = tableCsv;
  function download(name, type, text) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  // ---- sortable tables: click (or Enter/Space on) a header's button
  function cellValue(td) {
    var v = td.hasAttribute("data-v") ? td.getAttribute("data-v") : td.textContent.trim();
    var n = parseFloat(String(v).replace(/[£$€,%\s]/g, ""));
    return isNaN(n) || !/^[-£$€\d.,%\s]+$/.test(String(v)) ? String(v).toLowerCase() : n;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, idx) {
      if (th.hasAttribute("data-nosort")) { return; }
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      b.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(b);
      b.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, c) {
          var x = cellValue(a.cells[idx]), y = cellValue(c.cells[idx]);
          if (typeof x === typeof y) { return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); }
          return (typeof x === "number" ? -1 : 1) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    if (table.hasAttribute("data-export")) {
      var tools = document.createElement("div");
      tools.className = "table-tools";
      var b = document.createElement("button");
      b.type = "button";
      b.className = "linkish";
      b.textContent = "Download CSV";
      b.addEventListener("click", function () {
        download(table.getAttribute("data-export") + ".csv", "text/csv;charset=utf-8", "\ufeff" + tableCsv(table));
      });
      tools.appendChild(b);
      table.parentNode.insertBefore(tools, table);
    }
  });

  // ---- chart downloads and zoom
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.dl-svg");
    if (b) {
      var svg = document.getElementById(b.getAttribute("data-target")).querySelector("svg");
      download(b.getAttribute("data-name"), "image/svg+xml", '<?xml version="1.0" encoding="UTF-8"?>\n' + svg.outerHTML);
    }
  });

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.zoom");
    if (!b) { return; }
    var fig = document.getElementById(b.getAttribute("data-target"));
    var on = !fig.classList.contains("zoomed");
    fig.classList.toggle("zoomed", on);
    var card = fig.closest(".card");
    if (card) { card.classList.toggle("zoomed", on); }
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Shrink" : "Enlarge";
    if (on) { fig.scrollIntoView({ block: "nearest" }); }
  });

  // ---- forms: confirmations, auto-submitting selects
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
    var btn = s.form.querySelector("button.js-hide");
    if (btn) { btn.hidden = true; }
  });
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-copy"));
      if (navigator.clipboard) { navigator.clipboard.writeText(src.textContent).then(function () { b.textContent = "Copied"; }, function () {}); }
    });
  });
})();
