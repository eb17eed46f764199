// Tiny dependency-free SVG charts over an event-time axis: lines with a band, and stacked bars.
// Each call redraws the whole <svg> from plain arrays; nothing here touches the network.

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 200;
const PAD = { left: 40, right: 12, top: 22, bottom: 22 };

function node(name, attrs, parent) {
  const el = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  if (parent) parent.appendChild(el);
  return el;
}

function text(parent, x, y, content, cls) {
  const el = node("text", { x, y, class: cls || "" }, parent);
  el.textContent = content;
  return el;
}

/** HH:MM (UTC) of an epoch-ms time. */
export function clock(ms) {
  return new Date(ms).toISOString().slice(11, 16);
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above v (an axis top that reads well). */
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

function frame(svg, x0, x1, yMax) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (v) => PAD.left + (x1 === x0 ? 0.5 : (v - x0) / (x1 - x0)) * innerW;
  const y = (v) => PAD.top + innerH - (v / yMax) * innerH;
  for (const f of [0, 0.5, 1]) {
    node("line", { x1: PAD.left, x2: W - PAD.right, y1: y(f * yMax), y2: y(f * yMax), class: "grid" }, svg);
    const label = Number.isInteger(f * yMax) ? String(f * yMax) : (f * yMax).toFixed(1);
    text(svg, PAD.left - 6, y(f * yMax) + 4, label, "tick y");
  }
  const ticks = x1 > x0 ? [x0, (x0 + x1) / 2, x1] : [x0];
  ticks.forEach((t, i) => {
    const anchor = ticks.length === 1 ? "" : i === 0 ? " first" : i === ticks.length - 1 ? " last" : "";
    text(svg, x(t), H - 6, clock(t), `tick x${anchor}`);
  });
  return { x, y };
}

function legend(svg, items) {
  let at = W - PAD.right;
  for (const { name, cls } of [...items].reverse()) {
    const label = text(svg, at, 12, name, "legend");
    at -= name.length * 6.5 + 8;
    node("rect", { x: at, y: 4, width: 10, height: 10, class: `swatch ${cls}` }, svg);
    label.setAttribute("x", at + 14);
    at -= 12;
  }
}

function empty(svg, message) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  text(svg, W / 2, H / 2, message, "empty");
}

function runs(xs, ...columns) {
  // Stretches of consecutive points where every column has a value (null breaks a line or band).
  const out = [];
  let current = [];
  xs.forEach((xv, i) => {
    if (columns.every((c) => c[i] !== null && c[i] !== undefined)) current.push(i);
    else if (current.length) out.push(current), (current = []);
  });
  if (current.length) out.push(current);
  return out;
}

/**
 * Lines over time, with an optional band behind them.
 * spec: { x: [ms], lines: [{ name, values, cls }], band: { name, lo, hi, cls } | null, emptyText }
 */
export function lineChart(svg, spec) {
  const values = spec.lines.flatMap((l) => l.values).concat(spec.band ? spec.band.hi : []);
  if (!spec.x.length || !values.some((v) => v !== null)) return empty(svg, spec.emptyText || "no data yet");
  const { x, y } = frame(svg, spec.x[0], spec.x[spec.x.length - 1], niceMax(Math.max(...values.filter((v) => v !== null))));
  if (spec.band) {
    const { lo, hi } = spec.band;
    for (const run of runs(spec.x, lo, hi)) {
      const upper = run.map((i) => `${x(spec.x[i])},${y(hi[i])}`);
      const lower = run.reverse().map((i) => `${x(spec.x[i])},${y(lo[i])}`);
      node("polygon", { points: upper.concat(lower).join(" "), class: `band ${spec.band.cls}` }, svg);
    }
  }
  for (const line of spec.lines) {
    for (const run of runs(spec.x, line.values)) {
      const d = run.map((i, k) => `${k ? "L" : "M"}${x(spec.x[i])},${y(line.values[i])}`).join("");
      node("path", { d, class: `line ${line.cls}` }, svg);
      if (run.length === 1) node("circle", { cx: x(spec.x[run[0]]), cy: y(line.values[run[0]]), r: 3, class: `dot ${line.cls}` }, svg);
    }
  }
  legend(svg, [...spec.lines, ...(spec.band ? [spec.band] : [])]);
}

/**
 * Stacked bars, one per time bucket.
 * spec: { x: [ms], width: bucket ms, series: [{ name, values, cls }], emptyText }
 */
export function barChart(svg, spec) {
  if (!spec.x.length) return empty(svg, spec.emptyText || "no data yet");
  const totals = spec.x.map((_, i) => spec.series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const x0 = spec.x[0];
  const x1 = spec.x[spec.x.length - 1] + spec.width;
  const { x, y } = frame(svg, x0, x1, niceMax(Math.max(...totals)));
  const barW = Math.max(((x(x0 + spec.width) - x(x0)) * 0.8), 1);
  spec.x.forEach((t, i) => {
    let base = 0;
    for (const s of spec.series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        node("rect", { x: x(t), y: y(base + v), width: barW, height: y(base) - y(base + v), class: `bar ${s.cls}` }, svg);
      }
      base += v;
    }
  });
  legend(svg, spec.series);
}
