// Shop: machines with their live state (polled), the hour-of-week utilisation heat map of each,
// and the shop's spare hours for the next 30 days as a calendar.
import { api, listAll } from "../api.js";
import { spareCalendar, utilisationHeatmap } from "../charts.js";
import { h, replace } from "../dom.js";
import { dateTime, num, pct, t } from "../i18n.js";

const LIVE_MS = 2500; // machine states
const CAPACITY_MS = 30000; // calendars and heat maps change slowly

function ago(iso) {
  if (!iso) return t("machines.never");
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return t("machines.secondsAgo", { n: Math.round(s) });
  if (s < 5400) return t("machines.minutesAgo", { n: Math.round(s / 60) });
  if (s < 2 * 86400) return t("machines.hoursAgo", { n: Math.round(s / 3600) });
  return t("machines.daysAgo", { n: Math.round(s / 86400) });
}

export async function mount(main, { me }) {
  const shopId = me.organization.id;
  let stopped = false;
  const timers = [];
  const cards = new Map(); // machine id -> {state, seen, heat, figures}
  const lastStates = new Map();
  const announcer = h("p", { class: "visually-hidden", "aria-live": "polite", id: "machine-announcer" });
  const grid = h("div", { class: "grid machines", id: "machine-grid" });
  const calendarBox = h("div", { id: "spare-calendar" }, h("p", {}, t("common.loading")));
  const classBox = h("div", { id: "class-capacity" });
  const updated = h("p", { class: "help", id: "live-updated" });

  replace(main,
    h("h1", {}, t("nav.machines")),
    h("p", { class: "help" }, t("machines.help")), updated, announcer,
    grid,
    h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "cal-h" }, h("h2", { id: "cal-h" }, t("cal.title")), h("p", { class: "help" }, t("cal.help")), calendarBox),
      h("section", { class: "card", "aria-labelledby": "cls-h" }, h("h2", { id: "cls-h" }, t("machines.byClass")), classBox)));

  function card(m) {
    if (cards.has(m.id)) return cards.get(m.id);
    const state = h("span", { class: "state", dataset: { state: m.state } });
    const seen = h("span", { class: "help" });
    const heat = h("div", { class: "heat" });
    const figures = h("p", { class: "help" });
    const el = h("section", { class: "card machine", id: `machine-${m.id}`, "aria-labelledby": `mh-${m.id}` },
      h("h3", { id: `mh-${m.id}` }, h("span", {}, m.name), state),
      h("p", { class: "help" }, `${m.machine_type} · ${t("machines.axes", { n: m.axes })} · ${m.controller || ""} · ${t("machines.rate", { rate: num(m.hourly_rate_jpy) })}`),
      seen, figures,
      h("h4", {}, t("chart.heat.title")), heat);
    grid.append(el);
    const c = { el, state, seen, heat, figures };
    cards.set(m.id, c);
    return c;
  }

  async function live() {
    const machines = await listAll("/v1/machines", 200);
    if (!machines.length) replace(grid, h("p", { class: "empty" }, t("machines.none")));
    for (const m of machines) {
      const c = card(m);
      c.state.textContent = t(`state.${m.state}`, { state: m.state });
      c.state.className = `state state-${m.state}`;
      c.state.dataset.state = m.state;
      c.seen.textContent = t("machines.lastSeen", { when: ago(m.last_seen) });
      c.el.classList.toggle("stale", !m.last_seen || Date.now() - new Date(m.last_seen).getTime() > 86400000);
      const before = lastStates.get(m.id);
      if (before && before !== m.state) announcer.textContent = t("machines.changed", { name: m.name, state: t(`state.${m.state}`, { state: m.state }) });
      lastStates.set(m.id, m.state);
    }
    updated.textContent = t("machines.updated", { when: dateTime(new Date().toISOString()) });
  }

  async function capacity() {
    const shop = await api(`/v1/shops/${shopId}/capacity?days=30`);
    replace(calendarBox, spareCalendar(shop.totals || []),
      h("p", { class: "help" }, t("cal.total", { n: num((shop.totals || []).reduce((a, d) => a + d.spare_hours, 0), 0), tz: shop.tz })));
    replace(classBox, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("machines.class")), h("th", { scope: "col", class: "num" }, t("machines.count")), h("th", { scope: "col", class: "num" }, t("machines.idle")), h("th", { scope: "col", class: "num" }, t("machines.spare7")))),
      h("tbody", {}, (shop.by_class || []).map((c) => h("tr", {}, h("td", {}, c.machine_class), h("td", { class: "num" }, num(c.machines)), h("td", { class: "num" }, num(c.idle_machines)), h("td", { class: "num" }, `${num(c.spare_hours_next_7_days, 0)} h`))))));
    for (const [id, c] of cards) {
      const mc = await api(`/v1/machines/${id}/capacity?days=30`).catch(() => null);
      if (!mc) continue;
      replace(c.heat, utilisationHeatmap(mc.utilisation_by_hour_of_week || [], t("chart.heat.label", { name: mc.name })));
      replace(c.figures, t("machines.figures", {
        util: mc.timeline?.utilisation === null || mc.timeline?.utilisation === undefined ? "–" : pct(mc.timeline.utilisation),
        spare: num(mc.spare_hours_total, 0),
        trust: pct(mc.trust),
      }));
    }
  }

  async function loop(fn, ms, wait = false) {
    if (wait) await new Promise((resolve) => timers.push(setTimeout(resolve, ms)));
    while (!stopped) {
      try {
        await fn();
      } catch (err) {
        updated.textContent = err.message;
      }
      await new Promise((resolve) => timers.push(setTimeout(resolve, ms)));
    }
  }

  await live().catch((err) => replace(grid, h("p", { class: "error" }, err.message)));
  loop(live, LIVE_MS, true);
  loop(capacity, CAPACITY_MS);
  return () => {
    stopped = true;
    timers.forEach(clearTimeout);
  };
}
