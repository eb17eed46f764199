// The dashboard page: one EventSource (/events) pushes snapshots; the page redraws from each one.
// Everything from the topics is set as text (textContent), never parsed as HTML.
import { barChart, clock, lineChart } from "./charts.js";

const view = {
  data: null,
  sort: "units_sold",
  descending: true,
  filter: "",
  sku: new URLSearchParams(location.search).get("sku"),
  source: null,
};

const $ = (id) => document.getElementById(id);
const int = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US"));
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(0)} %`);
const num1 = (v) => (v === null || v === undefined ? "–" : v.toFixed(1));

function cell(row, content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content);
  else td.textContent = content;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function badge(kind) {
  const span = document.createElement("span");
  span.className = `kind ${kind}`;
  span.textContent = kind;
  return span;
}

function connect() {
  if (view.source) view.source.close();
  const query = view.sku ? `?sku=${encodeURIComponent(view.sku)}` : "";
  view.source = new EventSource(`/events${query}`);
  view.source.onopen = () => setConnection("live", "ok");
  view.source.onerror = () => setConnection("reconnecting…", "bad");
  view.source.onmessage = (event) => {
    view.data = JSON.parse(event.data);
    render();
  };
}

function setConnection(label, cls) {
  $("connection").textContent = label;
  $("connection").className = `connection ${cls}`;
}

function render() {
  const d = view.data;
  $("namespace").textContent = d.namespace ? `· ${d.namespace}` : "· live";
  $("event-time").textContent = d.event_time ? d.event_time.replace("T", " ").slice(0, 19) + " UTC" : "–";
  $("group").textContent = d.group;
  renderTiles(d);
  renderCharts(d);
  renderTable(d);
  renderDecisions(d);
  renderDeadLetters(d);
  renderLag(d);
}

function renderTiles(d) {
  const t = d.totals;
  const perMinute = d.recommendations_per_minute;
  const last = perMinute.length ? perMinute[perMinute.length - 1][1] : null;
  $("kpi-units").textContent = int(t.units_sold);
  $("kpi-on-hand").textContent = int(t.on_hand);
  $("kpi-inbound").textContent = `inbound ${int(t.inbound)} · ${int(t.skus)} SKUs`;
  $("kpi-restocks").textContent = int(t.restocks);
  $("kpi-discounts").textContent = int(t.discounts);
  $("kpi-recs").textContent = int(last);
  $("kpi-recs-total").textContent = `${int(t.recommendations)} lists in all`;
  $("kpi-dead").textContent = int(t.dead_letters);
  const lag = d.lag || {};
  $("kpi-lag").textContent = lag.error ? "?" : int(lag.total);
  $("kpi-lag-note").textContent = lag.error ? "cannot read offsets" : lag.committed === false ? "no commits yet" : "records";
}

function renderCharts(d) {
  const series = d.series;
  $("series-sku").textContent = series ? series.sku : "–";
  const points = series ? series.points : [];
  lineChart($("chart-forecast"), {
    x: points.map((p) => p[0]),
    lines: [
      { name: "actual", values: points.map((p) => p[1]), cls: "actual" },
      { name: "forecast", values: points.map((p) => p[2]), cls: "forecast" },
    ],
    band: { name: "band", lo: points.map((p) => p[3]), hi: points.map((p) => p[4]), cls: "band" },
    emptyText: "waiting for the first closed minute…",
  });
  barChart($("chart-timeline"), {
    x: d.timeline.map((p) => p[0]),
    width: d.bucket_ms,
    series: [
      { name: "restock", values: d.timeline.map((p) => p[1]), cls: "restock" },
      { name: "discount", values: d.timeline.map((p) => p[2]), cls: "discount" },
    ],
    emptyText: "no decisions yet",
  });
  barChart($("chart-recs"), {
    x: d.recommendations_per_minute.map((p) => p[0]),
    width: d.bucket_ms,
    series: [{ name: "lists", values: d.recommendations_per_minute.map((p) => p[1]), cls: "recs" }],
    emptyText: "no recommendations yet",
  });
}

const SORT_VALUE = {
  forecast: (r) => (r.forecast ? r.forecast.units : null),
  decision: (r) => (r.last_decision ? r.last_decision.ts : null),
};

function sortedRows(rows) {
  const needle = view.filter.toLowerCase();
  const text = (r) =>
    [r.sku, r.title, r.last_decision && r.last_decision.what, r.last_decision && r.last_decision.reason]
      .join(" ")
      .toLowerCase();
  const value = SORT_VALUE[view.sort] || ((r) => r[view.sort]);
  const sign = view.descending ? -1 : 1;
  return rows
    .filter((r) => !needle || text(r).includes(needle))
    .sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (va === vb) return a.sku < b.sku ? -1 : 1;
      if (va === null || va === undefined) return 1; // unknowns last, either way
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * sign;
    });
}

function renderTable(d) {
  const shown = sortedRows(d.skus);
  const body = document.createElement("tbody");
  for (const r of shown) {
    const tr = document.createElement("tr");
    tr.dataset.sku = r.sku;
    if (d.series && r.sku === d.series.sku) tr.className = "selected";
    cell(tr, r.sku);
    cell(tr, r.title, "title").title = r.title;
    cell(tr, int(r.on_hand), r.on_hand === 0 ? "num soldout" : "num");
    cell(tr, int(r.inbound), "num");
    if (r.oversold_units) cell(tr, `${int(r.units_sold)} (${int(r.oversold_units)} oversold)`, "num soldout");
    else cell(tr, int(r.units_sold), "num");
    cell(tr, r.forecast ? `${num1(r.forecast.units)} [${num1(r.forecast.lo)}–${num1(r.forecast.hi)}]` : "–", "num");
    cell(tr, pct(r.discount), "num");
    const decision = r.last_decision;
    if (decision) {
      const box = document.createElement("span");
      box.append(badge(decision.kind), ` ${clock(Date.parse(decision.ts))} ${decision.reason}`);
      cell(tr, box, "reason").title = `${decision.what}: ${decision.reason}`; // all of it on hover
    } else cell(tr, "–");
    tr.addEventListener("click", () => selectSku(r.sku));
    body.appendChild(tr);
  }
  $("sku-table").replaceChild(body, $("sku-table").tBodies[0]);
  $("sku-count").textContent = `${shown.length} of ${d.skus.length}`;
  for (const th of document.querySelectorAll("#sku-table th")) {
    th.setAttribute("aria-sort", th.dataset.key === view.sort ? (view.descending ? "descending" : "ascending") : "none");
  }
}

function renderDecisions(d) {
  const list = $("decisions");
  list.replaceChildren();
  for (const decision of d.decisions.slice(0, 12)) {
    const li = document.createElement("li");
    li.append(badge(decision.kind), ` ${clock(Date.parse(decision.ts))} ${decision.sku}: ${decision.what}`);
    const why = document.createElement("span");
    why.className = "reason";
    why.textContent = decision.reason;
    li.appendChild(why);
    list.appendChild(li);
  }
  if (!d.decisions.length) list.textContent = "none yet";
}

function keyValueRows(table, rows) {
  const body = document.createElement("tbody");
  for (const [key, value, note] of rows) {
    const tr = document.createElement("tr");
    cell(tr, key);
    cell(tr, value, "num");
    if (note !== undefined) cell(tr, note, "muted");
    body.appendChild(tr);
  }
  table.replaceChild(body, table.tBodies[0]);
}

function renderDeadLetters(d) {
  const rows = d.dead_letters.map((x) => [x.reason, int(x.count), `${Object.keys(x.sources).join(", ")}: ${x.last_message}`]);
  keyValueRows($("dead-letters"), rows.length ? rows : [["none", "0", ""]]);
}

function renderLag(d) {
  const lag = d.lag || {};
  keyValueRows($("lag-table"), lag.by_topic ? Object.entries(lag.by_topic).map(([t, n]) => [t, int(n)]) : [[lag.error || "measuring…", ""]]);
  const r = d.reader;
  const read = Object.values(r.records).reduce((a, b) => a + b, 0);
  const bad = Object.values(r.bad).reduce((a, b) => a + b, 0);
  const status = r.error ? `reader: ${r.error}` : `read ${int(read)} records, ${int(bad)} bad`;
  $("reader-status").textContent = r.last_bad ? `${status} (last: ${r.last_bad})` : status;
}

function selectSku(sku) {
  view.sku = sku;
  history.replaceState(null, "", `?sku=${encodeURIComponent(sku)}`);
  connect(); // the server sends this SKU's series from now on
}

function setup() {
  $("sku-filter").addEventListener("input", (event) => {
    view.filter = event.target.value;
    if (view.data) renderTable(view.data);
  });
  for (const th of document.querySelectorAll("#sku-table th")) {
    th.addEventListener("click", () => {
      view.descending = th.dataset.key === view.sort ? !view.descending : !["sku", "title"].includes(th.dataset.key);
      view.sort = th.dataset.key;
      if (view.data) renderTable(view.data);
    });
  }
  connect();
}

setup();
