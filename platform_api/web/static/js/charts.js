// Hand-drawn SVG charts (no chart library). Each chart is an <svg role="img"> with a title and a
// one-line description for screen readers, and comes with the same numbers as a table.
import { h, newId, s } from "./dom.js";
import { num, t, weekday, yen } from "./i18n.js";

function frame(width, height, title, desc) {
  const tid = newId("chart-title");
  const did = newId("chart-desc");
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${tid} ${did}` });
  svg.append(s("title", { id: tid }, title), s("desc", { id: did }, desc));
  return svg;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

function compactYen(v) {
  if (v >= 1e6) return `${num(v / 1e6, 1)}M`;
  if (v >= 1e3) return `${num(v / 1e3, 1)}k`;
  return num(v);
}

/** Unit price against quantity (log scale), the chosen quantity highlighted. */
export function priceBreaksChart(breaks, currentQuantity) {
  const W = 420, H = 190, L = 52, R = 14, T = 14, B = 34;
  const pts = [...breaks].sort((a, b) => a.quantity - b.quantity);
  const maxP = niceMax(Math.max(...pts.map((p) => p.unit_price)));
  const qs = pts.map((p) => Math.log10(p.quantity));
  const q0 = Math.min(...qs), q1 = Math.max(...qs) === q0 ? q0 + 1 : Math.max(...qs);
  const x = (q) => L + ((Math.log10(q) - q0) / (q1 - q0)) * (W - L - R);
  const y = (p) => T + (1 - p / maxP) * (H - T - B);
  const first = pts[0], last = pts[pts.length - 1];
  const svg = frame(W, H, t("chart.breaks.title"), t("chart.breaks.desc", {
    from: yen(first.unit_price), q0: first.quantity, to: yen(last.unit_price), q1: last.quantity,
  }));
  for (const f of [0, 0.5, 1]) {
    svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: y(maxP * f), y2: y(maxP * f), "stroke-dasharray": f ? "2 3" : null }));
    svg.append(s("text", { x: L - 6, y: y(maxP * f) + 4, "text-anchor": "end" }, compactYen(maxP * f)));
  }
  svg.append(s("polyline", { class: "line", points: pts.map((p) => `${x(p.quantity)},${y(p.unit_price)}`).join(" ") }));
  for (const p of pts) {
    const cur = p.quantity === currentQuantity;
    svg.append(s("circle", { class: cur ? "dot current" : "dot", cx: x(p.quantity), cy: y(p.unit_price), r: cur ? 6 : 4 }));
    svg.append(s("text", { x: x(p.quantity), y: H - B + 16, "text-anchor": "middle" }, num(p.quantity)));
  }
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, t("chart.breaks.x")));
  const table = h("table", { class: "visually-hidden" },
    h("caption", {}, t("chart.breaks.title")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("quote.quantity")), h("th", { scope: "col" }, t("quote.unit")), h("th", { scope: "col" }, t("quote.total")))),
    h("tbody", {}, pts.map((p) => h("tr", {}, h("td", {}, num(p.quantity)), h("td", {}, yen(p.unit_price)), h("td", {}, yen(p.total_price))))));
  return h("figure", { class: "chart-figure", "data-chart": "price-breaks" }, svg, table);
}

const BREAKDOWN_ORDER = ["material", "setup", "programming", "machining", "finishing", "inspection", "margin"];

/** The cost breakdown of one piece as horizontal bars, largest share first. */
export function breakdownChart(breakdown) {
  const entries = Object.entries(breakdown)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((acc, [, v]) => acc + v, 0) || 1;
  const W = 420, row = 26, L = 110, R = 90;
  const H = entries.length * row + 8;
  const top = entries[0];
  const svg = frame(W, H, t("chart.breakdown.title"), top ? t("chart.breakdown.desc", {
    part: t(`cost.${top[0]}`), share: Math.round((top[1] / total) * 100),
  }) : "");
  entries.forEach(([k, v], i) => {
    const yy = 4 + i * row;
    const w = Math.max(2, (v / total) * (W - L - R));
    const colour = ["#0b5cad", "#4b8fd6", "#1d7a3a", "#6fb07f", "#9a5b00", "#d19a3a", "#6b4fa0", "#a0a8b5"][BREAKDOWN_ORDER.indexOf(k) >= 0 ? BREAKDOWN_ORDER.indexOf(k) : 7];
    svg.append(s("text", { x: L - 8, y: yy + 16, "text-anchor": "end" }, t(`cost.${k}`)));
    svg.append(s("rect", { x: L, y: yy + 3, width: w, height: row - 8, rx: 3, fill: colour }));
    svg.append(s("text", { x: L + w + 6, y: yy + 16 }, `${yen(v)} (${Math.round((v / total) * 100)}%)`));
  });
  const table = h("table", { class: "visually-hidden" },
    h("caption", {}, t("chart.breakdown.title")),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, t(`cost.${k}`)), h("td", {}, yen(v))))));
  return h("figure", { class: "chart-figure", "data-chart": "breakdown" }, svg, table);
}

function heat(v) {
  // 0 -> pale, 1 -> deep blue
  const a = Math.max(0, Math.min(1, v));
  const r = Math.round(240 - a * 229), g = Math.round(244 - a * 152), b = Math.round(248 - a * 75);
  return `rgb(${r},${g},${b})`;
}

/** Hour-of-week utilisation (168 values in [0, 1], Monday 00:00 first) as a 7 x 24 heat map. */
export function utilisationHeatmap(values, label) {
  const W = 520, L = 34, T = 16, cell = (W - L - 4) / 24, ch = 14, H = T + 7 * ch + 4;
  const mean = values.reduce((a, v) => a + v, 0) / (values.length || 1);
  let peak = 0;
  values.forEach((v, i) => { if (v > values[peak]) peak = i; });
  const svg = frame(W, H, label, t("chart.heat.desc", {
    mean: Math.round(mean * 100), day: weekday(Math.floor(peak / 24)), hour: peak % 24, peak: Math.round((values[peak] || 0) * 100),
  }));
  for (let hr = 0; hr < 24; hr += 3) svg.append(s("text", { x: L + hr * cell + cell / 2, y: 11, "text-anchor": "middle" }, String(hr)));
  for (let d = 0; d < 7; d++) {
    svg.append(s("text", { x: L - 4, y: T + d * ch + 11, "text-anchor": "end" }, weekday(d)));
    for (let hr = 0; hr < 24; hr++) {
      const v = values[d * 24 + hr] ?? 0;
      const r = s("rect", { x: L + hr * cell, y: T + d * ch, width: cell - 1, height: ch - 1, fill: heat(v) });
      r.append(s("title", {}, `${weekday(d)} ${hr}:00 — ${Math.round(v * 100)}%`));
      svg.append(r);
    }
  }
  return h("figure", { class: "chart-figure", "data-chart": "heatmap" }, svg);
}

/** A 30-day calendar of spare machine hours (HTML grid; each day says its numbers). */
export function spareCalendar(days, maxHours) {
  const top = maxHours || Math.max(1, ...days.map((d) => d.working_hours ?? d.spare_hours ?? 0));
  const first = days.length ? new Date(`${days[0].day}T00:00:00`) : new Date();
  const lead = (first.getDay() + 6) % 7; // Monday-first grid
  const cells = [];
  for (let i = 0; i < 7; i++) cells.push(h("div", { class: "muted", "aria-hidden": "true" }, weekday(i)));
  for (let i = 0; i < lead; i++) cells.push(h("div", { "aria-hidden": "true" }));
  for (const d of days) {
    const share = Math.max(0, Math.min(1, (d.spare_hours || 0) / top));
    const el = h("div", { class: "day", role: "listitem", title: t("cal.day", { spare: num(d.spare_hours, 1), booked: num(d.booked_hours ?? 0, 1) }) },
      h("b", {}, new Date(`${d.day}T00:00:00`).getDate()),
      h("span", {}, `${num(d.spare_hours, 1)} h`));
    el.style.background = heat(share * 0.85);
    if (share > 0.6) el.style.color = "#fff";
    cells.push(el);
  }
  return h("div", { class: "calendar", role: "list", "aria-label": t("cal.label") }, cells);
}

/** Horizontal bars for a few labelled counts: [{label, value, text?}]. */
export function barChart(title, entries, { id } = {}) {
  const W = 420, row = 24, L = 120, R = 70;
  const H = entries.length * row + 6;
  const top = Math.max(1, ...entries.map((e) => e.value));
  const svg = frame(W, H, title, entries.map((e) => `${e.label}: ${e.text ?? num(e.value)}`).join("; "));
  entries.forEach((e, i) => {
    const yy = 3 + i * row;
    const w = Math.max(1, (e.value / top) * (W - L - R));
    svg.append(s("text", { x: L - 8, y: yy + 15, "text-anchor": "end" }, e.label));
    svg.append(s("rect", { x: L, y: yy + 3, width: w, height: row - 8, rx: 3, fill: e.colour || "#0b5cad" }));
    svg.append(s("text", { x: L + w + 6, y: yy + 15 }, e.text ?? num(e.value)));
  });
  return h("figure", { class: "chart-figure", id }, svg);
}

/** Where a price level (1.0 = the market model) sits on a 0.5-1.5 scale. */
export function priceLevelGauge(level) {
  const W = 420, H = 76, L = 24, R = 24, D = 12; // D: room above for the label
  const lo = 0.5, hi = 1.5;
  const x = (v) => L + ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * (W - L - R);
  const svg = frame(W, H, t("perf.priceLevel"), level === null ? t("perf.noLevel") : `${num(level, 2)} × ${t("perf.market")}`);
  const grad = s("linearGradient", { id: "lvl-grad", x1: 0, x2: 1, y1: 0, y2: 0 },
    s("stop", { offset: "0", "stop-color": "#1d7a3a" }), s("stop", { offset: "0.5", "stop-color": "#d5dbe3" }), s("stop", { offset: "1", "stop-color": "#b3261e" }));
  svg.append(s("defs", {}, grad));
  svg.append(s("rect", { x: L, y: 22 + D, width: W - L - R, height: 10, rx: 5, fill: "url(#lvl-grad)" }));
  for (const v of [0.5, 0.75, 1, 1.25, 1.5]) {
    svg.append(s("text", { x: x(v), y: 50 + D, "text-anchor": "middle" }, v === 1 ? `1.00 ${t("perf.market")}` : num(v, 2)));
  }
  svg.append(s("line", { x1: x(1), x2: x(1), y1: 16 + D, y2: 38 + D, stroke: "#1b2430", "stroke-dasharray": "2 2" }));
  if (level !== null && level !== undefined) {
    svg.append(s("path", { d: `M ${x(level) - 7} ${8 + D} L ${x(level) + 7} ${8 + D} L ${x(level)} ${20 + D} Z`, fill: "#1b2430" }));
    svg.append(s("text", { x: x(level), y: 4 + D, "text-anchor": "middle" }, `${t("perf.you")} ${num(level, 2)}`));
  }
  return h("figure", { class: "chart-figure", id: "price-level" }, svg);
}
