// Shop: the platform's computed statistics about it (win rate, time to quote, outcomes, price
// level against the market), the same numbers buyers see. Read-only by design.
import { api } from "../api.js";
import { barChart, priceLevelGauge } from "../charts.js";
import { h, replace } from "../dom.js";
import { dateTime, num, pct, t } from "../i18n.js";

function stat(key, value, note) {
  return h("div", { class: "stat", dataset: { stat: key } }, h("div", { class: "v" }, value), h("div", { class: "k" }, t(key)), note ? h("div", { class: "help" }, note) : null);
}

function topEntries(counts, n = 6) {
  return Object.entries(counts || {}).sort((a, b) => b[1] - a[1]).slice(0, n);
}

export async function mount(main, { me }) {
  replace(main, h("h1", {}, t("perf.title")), h("p", {}, t("common.loading")));
  const p = await api(`/v1/shops/${me.organization.id}/profile`);
  const level = p.price_level;
  const levelText = level === null || level === undefined
    ? t("perf.noLevel")
    : Math.abs(level - 1) < 0.005 ? t("perf.atMarket")
      : level > 1 ? t("perf.above", { pct: pct(level - 1) }) : t("perf.below", { pct: pct(1 - level) });
  const outcomes = [
    { label: t("status.won"), value: p.n_won, colour: "#1d7a3a" },
    { label: t("status.lost"), value: p.n_lost, colour: "#b3261e" },
    { label: t("status.no_bid"), value: p.n_no_bid, colour: "#9a5b00" },
    { label: t("status.quoted"), value: Math.max(0, p.n_quoted - p.n_won - p.n_lost), colour: "#3b5b8c" },
  ];
  replace(main,
    h("h1", {}, t("perf.title")),
    h("p", { class: "help" }, t("perf.help"), " ", dateTime(p.computed_at)),
    h("div", { class: "grid stats", id: "perf-stats" },
      stat("perf.winRate", pct(p.win_rate), `${num(p.n_won)} / ${num(p.n_won + p.n_lost)}`),
      stat("perf.timeToQuote", p.median_hours_to_quote === null ? "–" : t("perf.hours", { n: num(p.median_hours_to_quote, 1) })),
      stat("perf.onTime", pct(p.on_time_rate), p.n_delivered ? `${num(p.n_on_time)} / ${num(p.n_delivered)}` : null),
      stat("perf.response", pct(p.response_rate)),
      stat("perf.requests", num(p.n_requests))),
    h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "lvl-h" }, h("h2", { id: "lvl-h" }, t("perf.priceLevel")),
        h("p", { class: "price", id: "price-level-text" }, levelText),
        priceLevelGauge(level), h("p", { class: "help" }, t("perf.priceLevel.help"))),
      h("section", { class: "card", "aria-labelledby": "out-h" }, h("h2", { id: "out-h" }, t("perf.outcomes")),
        barChart(t("perf.outcomes"), outcomes, { id: "outcomes-chart" }))),
    h("section", { class: "card", "aria-labelledby": "mix-h" }, h("h2", { id: "mix-h" }, t("perf.mix")),
      h("div", { class: "grid two" },
        h("div", {}, h("h3", {}, t("perf.materials")), barChart(t("perf.materials"), topEntries(p.materials).map(([k, v]) => ({ label: k, value: v })))),
        h("div", {}, h("h3", {}, t("perf.processes")), barChart(t("perf.processes"), topEntries(p.processes).map(([k, v]) => ({ label: t(`process.${k}`), value: v }))))),
      h("h3", {}, t("perf.machines")),
      h("ul", {}, (p.machines || []).map((m) => h("li", {}, `${m.machine_class} · ${m.envelope_mm.map((v) => num(v)).join(" × ")} mm · ±${num(m.tolerance_mm, 3)} mm`))),
      h("h3", {}, t("perf.certs")),
      h("p", {}, (p.certifications || []).join(", ") || "–")));
}
