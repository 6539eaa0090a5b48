// Sideline dashboards: filters, charts, tables and drill-downs, client-side and offline.
// Every sentence was computed in Python for every filter state; this script only picks the
// one for the current state and draws the same rows the sentence was computed from.
// `select` mirrors dashboards/model.py:select; keep the two identical.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("dashboard-data").textContent);
  const datasets = {};
  for (const [name, d] of Object.entries(cfg.datasets)) datasets[name] = expand(d);
  const detailCache = {};
  const attrIndex = {};
  const views = {};
  const tableSort = {};
  const tableFull = {};
  let firstChartMarked = false;
  let drawing = Promise.resolve();

  function expand(d) {
    const f = d.fields;
    return d.rows.map((r) => {
      const o = {};
      for (let i = 0; i < f.length; i++) o[f[i]] = r[i];
      return o;
    });
  }

  function rangeOf(key) {
    return cfg.ranges.find((r) => r.key === key) || cfg.ranges[0];
  }

  function select(rows, part, st) {
    const range = rangeOf(st.range);
    let out = rows.filter((r) =>
      Object.entries(part.where || {}).every(([k, v]) => (r[k] ?? null) === v));
    if (part.date_field) {
      out = out.filter((r) => {
        const v = r[part.date_field];
        if (v === null || v === undefined) return false;
        const d = String(v).slice(0, 10);
        return range.start <= d && d <= range.end;
      });
    }
    if (part.kind_field && st.kind !== "*") out = out.filter((r) => r[part.kind_field] === st.kind);
    if (part.pick === "latest" && part.date_field && out.length) {
      const latest = out.map((r) => String(r[part.date_field])).reduce((a, b) => (a > b ? a : b));
      out = out.filter((r) => String(r[part.date_field]) === latest);
    }
    if (part.rollup) out = fold(out, part.rollup);
    return out;
  }

  // Mirrors dashboards/model.py:fold: one row per key, the attrs row with its sums replaced.
  function fold(rows, rollup) {
    const cacheKey = rollup.attrs + "|" + rollup.key;
    if (!attrIndex[cacheKey]) {
      const index = new Map();
      for (const r of datasets[rollup.attrs] || []) {
        const k = r[rollup.key] ?? null;
        if (!index.has(k)) index.set(k, r);
      }
      attrIndex[cacheKey] = index;
    }
    const index = attrIndex[cacheKey];
    const out = new Map();
    for (const r of rows) {
      const k = r[rollup.key] ?? null;
      if (!index.has(k)) continue;
      let o = out.get(k);
      if (!o) {
        o = Object.assign({}, index.get(k));
        for (const f of rollup.sums) o[f] = 0;
        out.set(k, o);
      }
      for (const f of rollup.sums) o[f] += r[f] ?? 0;
    }
    for (const o of out.values()) {
      for (const [name, [num, den]] of Object.entries(rollup.ratios)) {
        o[name] = (o[den] ?? 0) > 0 ? o[num] / o[den] : null;
      }
    }
    return Array.from(out.values());
  }

  function stateKey(part, st) {
    return st.range + "|" + (part.kind_field && st.kind !== "*" ? st.kind : "*");
  }

  // -- state in the URL hash, so a link or a reload keeps the filters (works from file:// too)
  function readState() {
    const p = new URLSearchParams(location.hash.slice(1));
    const range = cfg.ranges.some((r) => r.key === p.get("range")) ? p.get("range") : cfg.ranges[0].key;
    const kind = (cfg.kinds || []).includes(p.get("kind")) ? p.get("kind") : "*";
    return { range: range, kind: kind, item: p.get("item") || null };
  }

  function writeState(st) {
    const p = new URLSearchParams();
    p.set("range", st.range);
    if (st.kind !== "*") p.set("kind", st.kind);
    if (st.item) p.set("item", st.item);
    history.replaceState(null, "", "#" + p.toString());
    const shared = new URLSearchParams();
    shared.set("range", st.range);
    if (st.kind !== "*") shared.set("kind", st.kind);
    document.querySelectorAll("a[data-page]").forEach((a) => {
      a.href = a.dataset.page + "#" + shared.toString();
    });
  }

  // -- formatting of table cells
  const fmtInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const fmtDec1 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const fmtDec2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function cell(v, format) {
    if (v === null || v === undefined) return "–";
    switch (format) {
      case "int": return fmtInt.format(v);
      case "dec1": return fmtDec1.format(v);
      case "dec2": return fmtDec2.format(v);
      case "pct": return (Math.abs(v * 100) >= 9.95 || v === 0 ? fmtInt : fmtDec1).format(v * 100) + "%";
      case "datetime": return String(v).slice(0, 16).replace("T", " ");
      default: return String(v);
    }
  }

  // -- parts
  function drawTiles(st) {
    for (const t of cfg.tiles) {
      const el = document.querySelector(`[data-tile="${t.id}"] .value`);
      if (el) el.textContent = t.texts[stateKey(t, st)] ?? "n/a";
    }
  }

  function tableRows(t, st) {
    const rows = select(datasets[t.dataset], t, st);
    const s = tableSort[t.id] || { field: t.sort, desc: true };
    const dir = s.desc ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = a[s.field], y = b[s.field];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
  }

  // What had focus in a table before it is rebuilt, as a selector of its new counterpart: a
  // sort button, a row's drill-down button, or (after "Show all") the first row it added.
  function focusTarget(card, t) {
    const a = document.activeElement;
    if (!a || !card.contains(a)) return null;
    if (a.closest("thead") && a.dataset.field) return `thead button[data-field="${CSS.escape(a.dataset.field)}"]`;
    const row = a.closest("tbody tr[data-key]");
    if (row) return `tbody tr[data-key="${CSS.escape(row.dataset.key)}"] button.pick`;
    if (a.classList.contains("more")) return `tbody tr:nth-child(${t.page_size + 1}) button.pick`;
    return null;
  }

  function drawTable(t, st) {
    const card = document.getElementById("table-" + t.id);
    const refocus = focusTarget(card, t);
    const rows = tableRows(t, st);
    const s = tableSort[t.id] || { field: t.sort, desc: true };
    card.querySelector(".finding").textContent = t.texts[stateKey(t, st)] ?? "";
    const head = card.querySelector("thead");
    head.innerHTML = "";
    const tr = document.createElement("tr");
    for (const c of t.columns) {
      const th = document.createElement("th");
      th.scope = "col";
      if (c.format !== "text" && c.format !== "datetime") th.className = "num";
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = c.label;
      b.dataset.field = c.field;
      if (s.field === c.field) th.setAttribute("aria-sort", s.desc ? "descending" : "ascending");
      b.addEventListener("click", () => {
        const cur = tableSort[t.id] || { field: t.sort, desc: true };
        tableSort[t.id] = { field: c.field, desc: cur.field === c.field ? !cur.desc : c.format !== "text" };
        redraw();
      });
      th.appendChild(b);
      tr.appendChild(th);
    }
    head.appendChild(tr);
    const body = card.querySelector("tbody");
    body.innerHTML = "";
    const shown = tableFull[t.id] ? rows : rows.slice(0, t.page_size);
    const frag = document.createDocumentFragment();
    shown.forEach((r) => {
      const row = document.createElement("tr");
      const key = t.key_field ? r[t.key_field] : null;
      if (t.key_field) {
        // A click anywhere on the row picks it; the keyboard (Enter, Space) and screen readers
        // use the button in its first cell, whose pressed state says which row is selected.
        row.dataset.key = key;
        if (key === state.item) row.className = "selected";
        row.addEventListener("click", () => { state.item = key; update(); });
      }
      t.columns.forEach((c, i) => {
        const td = document.createElement("td");
        if (c.format !== "text" && c.format !== "datetime") td.className = "num";
        if (t.key_field && i === 0) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "pick";
          b.setAttribute("aria-pressed", String(key === state.item));
          b.textContent = cell(r[c.field], c.format);
          td.appendChild(b);
        } else {
          td.textContent = cell(r[c.field], c.format);
        }
        row.appendChild(td);
      });
      frag.appendChild(row);
    });
    body.appendChild(frag);
    const more = card.querySelector(".more");
    more.hidden = rows.length <= t.page_size || !!tableFull[t.id];
    more.textContent = `Show all ${fmtInt.format(rows.length)} rows`;
    more.onclick = () => { tableFull[t.id] = true; drawTable(t, state); };
    if (refocus) {
      const el = card.querySelector(refocus);
      if (el) el.focus({ preventScroll: true });
    }
    return rows;
  }

  function detailRows(chart) {
    if (!state.item) return [];
    if (!detailCache[chart.detail]) {
      const el = document.getElementById("detail-" + chart.detail);
      detailCache[chart.detail] = el ? JSON.parse(el.textContent) : {};
    }
    const d = detailCache[chart.detail][state.item];
    return d ? expand(d) : [];
  }

  function chartName(card) {
    return card.querySelector("h2").textContent.replace(/\s+/g, " ").trim();
  }

  // Vega makes the chart's container a "graphics-document" named "Vega visualization": give it
  // back its role and name (the chart's title), described by the finding, and hide the SVG.
  function labelChart(card, holder) {
    holder.setAttribute("role", "img");
    holder.setAttribute("aria-label", chartName(card));
    holder.removeAttribute("aria-roledescription");
    const finding = card.querySelector(".finding");
    if (finding && finding.id) holder.setAttribute("aria-describedby", finding.id);
    holder.querySelectorAll("svg, canvas").forEach((el) => el.setAttribute("aria-hidden", "true"));
  }

  // The numbers a chart draws, as Vega holds them: the tooltip of every mark (its labels and
  // formatted values), once each, in drawing order.
  function drawnRows(view) {
    const out = [];
    const seen = new Set();
    (function walk(node) {
      for (const item of node.items || []) {
        const tip = item.tooltip;
        if (tip && typeof tip === "object" && !Array.isArray(tip)) {
          const key = JSON.stringify(tip);
          if (!seen.has(key)) { seen.add(key); out.push(tip); }
        }
        if (item.items) walk(item);
      }
    })(view.scenegraph().root);
    return out;
  }

  const NUMERIC = /^[\u2212+-]?[\d,]*\.?\d+(%| ?[a-z]+)?$/;

  // The chart's data table, built when it is open (and again after each redraw while open).
  function fillDataTable(chart) {
    const card = document.getElementById("chart-" + chart.id);
    const details = card && card.querySelector("details.data-table");
    const view = views[chart.id];
    if (!details || !view) return;
    card.querySelector("caption").textContent = `The numbers drawn in \u201c${chartName(card)}\u201d`;
    if (!details.open) return;
    const rows = drawnRows(view);
    const fields = [];
    for (const r of rows) for (const k of Object.keys(r)) if (!fields.includes(k)) fields.push(k);
    const numeric = fields.map((f) => rows.every((r) => r[f] == null || NUMERIC.test(String(r[f]))));
    const head = document.createElement("tr");
    fields.forEach((f, i) => {
      const th = document.createElement("th");
      th.scope = "col";
      if (numeric[i]) th.className = "num";
      th.textContent = f;
      head.appendChild(th);
    });
    card.querySelector("details.data-table thead").replaceChildren(head);
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement("tr");
      fields.forEach((f, i) => {
        const td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) td.scope = "row";
        if (numeric[i]) td.className = "num";
        td.textContent = r[f] == null ? "\u2013" : String(r[f]);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    card.querySelector("details.data-table tbody").replaceChildren(frag);
  }

  async function drawChart(chart, st) {
    const card = document.getElementById("chart-" + chart.id);
    const holder = card.querySelector(".vis");
    const emptyEl = card.querySelector(".empty");
    const finding = card.querySelector(".finding");
    if (chart.missing) return;
    let rows;
    if (chart.detail) {
      rows = detailRows(chart);
      const texts = cfg.detail_texts[chart.id] || {};
      finding.textContent = state.item ? (texts[state.item] ?? "") : "Pick a row in the table to see its timeline.";
    } else {
      rows = select(datasets[chart.dataset], chart, st);
      finding.textContent = chart.texts[stateKey(chart, st)] ?? "";
    }
    const details = card.querySelector("details.data-table");
    holder.hidden = rows.length === 0;
    emptyEl.hidden = rows.length !== 0;
    if (details) details.hidden = rows.length === 0;
    if (!rows.length) return;
    // A drill-down item's own signal values (its timeline's unit), set before it is drawn.
    const signals = Object.entries(chart.detail ? ((cfg.detail_signals || {})[chart.id] || {})[state.item] || {} : {});
    if (!views[chart.id]) {
      const spec = JSON.parse(JSON.stringify(chart.spec));
      spec.data.find((d) => d.name === "rows").values = rows;
      for (const [name, value] of signals) spec.signals.find((s) => s.name === name).value = value;
      const res = await window.vegaEmbed(holder, spec, { mode: "vega", renderer: "svg", actions: false });
      views[chart.id] = res.view;
    } else {
      const view = views[chart.id].data("rows", rows);
      for (const [name, value] of signals) view.signal(name, value);
      await view.runAsync();
    }
    labelChart(card, holder);
    fillDataTable(chart);
    if (!firstChartMarked) {
      firstChartMarked = true;
      performance.mark("sideline:first-chart");
    }
  }

  function pickItem(st) {
    const t = cfg.tables.find((x) => x.key_field);
    if (!t) return;
    const rows = tableRows(t, st);
    if (!rows.some((r) => r[t.key_field] === st.item)) st.item = rows.length ? rows[0][t.key_field] : null;
    const label = document.querySelectorAll(".item-label");
    const row = rows.find((r) => r[t.key_field] === st.item);
    label.forEach((el) => {
      el.textContent = row ? `${row.title ?? row[t.key_field]} (${cell(row.starts_at, "datetime")} UTC)` : "the selected context";
    });
  }

  function drawSinks() {
    const el = document.getElementById("sinks-data");
    const card = document.getElementById("sinks");
    if (!el || !card) return;
    const s = JSON.parse(el.textContent);
    card.querySelector(".finding").textContent = s.sentence;
    const body = card.querySelector("tbody");
    body.innerHTML = "";
    for (const r of s.rows) {
      const tr = document.createElement("tr");
      tr.className = r.healthy ? "" : "attention";
      for (const [v, f] of [[r.name, "text"], [r.kind, "text"], [r.state, "text"], [r.lag, "int"],
        [r.dead_letters, "int"], [r.errors, "int"], [r.last_error || "", "text"]]) {
        const td = document.createElement("td");
        if (f === "int") td.className = "num";
        td.textContent = cell(v, f);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    card.querySelector("table").hidden = s.rows.length === 0;
    card.querySelector(".meta").textContent = s.note;
  }

  async function drawAll(st) {
    // Parts the kind filter leaves alone say so while a kind is selected.
    document.querySelectorAll(".kind-ignored").forEach((el) => { el.hidden = st.kind === "*"; });
    drawTiles(st);
    pickItem(st);
    const charts = cfg.charts.slice();
    if (charts.length) await drawChart(charts.shift(), st);
    for (const t of cfg.tables) drawTable(t, st);
    for (const c of charts) await drawChart(c, st);
    document.body.dataset.state = stateKey({ kind_field: true }, st) + (st.item ? "|" + st.item : "");
    document.body.dataset.ready = "1";
    performance.mark("sideline:charts-drawn");
  }

  function redraw() {
    drawing = drawing.then(() => drawAll(state)).catch((e) => { console.error(e); });
    return drawing;
  }

  function update() {
    writeState(state);
    document.body.dataset.ready = "0";
    redraw();
  }

  // -- filters
  const rangeSel = document.getElementById("f-range");
  const kindSel = document.getElementById("f-kind");
  const state = readState();
  for (const r of cfg.ranges) rangeSel.add(new Option(r.label, r.key));
  if (cfg.kinds && cfg.kinds.length) {
    kindSel.add(new Option("All kinds", "*"));
    for (const k of cfg.kinds) kindSel.add(new Option(k, k));
  } else {
    document.getElementById("kind-filter").hidden = true;
  }
  rangeSel.value = state.range;
  kindSel.value = state.kind;
  rangeSel.addEventListener("change", () => { state.range = rangeSel.value; update(); });
  kindSel.addEventListener("change", () => { state.kind = kindSel.value; update(); });
  window.addEventListener("hashchange", () => {
    const next = readState();
    if (next.range === state.range && next.kind === state.kind && next.item === state.item) return;
    Object.assign(state, next);
    rangeSel.value = state.range;
    kindSel.value = state.kind;
    update();
  });
  if (location.protocol.startsWith("http")) {
    document.querySelectorAll(".served-only").forEach((el) => { el.hidden = false; });
  }
  for (const chart of cfg.charts) {
    const details = document.querySelector(`#chart-${CSS.escape(chart.id)} details.data-table`);
    if (details) details.addEventListener("toggle", () => fillDataTable(chart));
  }

  // The sticky header's height, for the page's scroll-padding: what takes focus scrolls into
  // view below the header, never under it (the header wraps, and stops sticking when narrow).
  const header = document.querySelector("header.top");
  function headerSpace() {
    const sticky = header && getComputedStyle(header).position === "sticky";
    document.documentElement.style.setProperty("--header-space", (sticky ? header.offsetHeight : 0) + "px");
  }
  if (header) {
    headerSpace();
    if (window.ResizeObserver) new ResizeObserver(headerSpace).observe(header);
    window.addEventListener("resize", headerSpace);
  }

  drawSinks();
  writeState(state);
  redraw();
})();
