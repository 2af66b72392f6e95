// Buyer: the RFQs sent and every shop's answer (refreshed while the page is open).
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { date, dateTime, num, t, yen } from "../i18n.js";

const POLL_MS = 10000;

function specLine(spec) {
  const tol = typeof spec.tolerance === "number" ? `±${spec.tolerance} mm` : spec.tolerance || "";
  return `${spec.material} · ${t("rfqs.pieces", { n: num(spec.quantity) })} · ${tol} · ${spec.finish || "none"}`;
}

function statusBadge(status) {
  const cls = status === "accepted" ? "ok" : status === "declined" ? "err" : "muted";
  return h("span", { class: `badge ${cls}`, dataset: { status } }, t(`rfqs.status.${status}`, { status }));
}

export function rfqCard(rfq) {
  return h("section", { class: "card rfq", id: `rfq-${rfq.id}`, "aria-labelledby": `rh-${rfq.id}` },
    h("h2", { id: `rh-${rfq.id}` }, rfq.part.file_name, " ", statusBadge(rfq.status)),
    h("p", {}, specLine(rfq.spec), " · ", t("inbox.due"), " ", date(rfq.needed_by)),
    h("p", { class: "help" }, t("rfqs.sentAt"), " ", dateTime(rfq.created_at), rfq.message ? ` · “${rfq.message}”` : ""),
    h("table", {},
      h("caption", { class: "visually-hidden" }, t("rfqs.answers")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("match.shop")), h("th", { scope: "col" }, t("inbox.status")),
        h("th", { scope: "col", class: "num" }, t("quote.unit")), h("th", { scope: "col", class: "num" }, t("quote.total")),
        h("th", { scope: "col", class: "num" }, t("match.lead")), h("th", { scope: "col" }, t("inbox.note")))),
      h("tbody", {}, rfq.recipients.map((r) => h("tr", { dataset: { shop: r.shop_id } },
        h("td", {}, r.name),
        h("td", {}, statusBadge(r.status), r.decline_reason ? ` ${t(`inbox.reason.${r.decline_reason}`, { name: r.decline_reason })}` : ""),
        h("td", { class: "num" }, r.unit_price === null ? "–" : yen(r.unit_price)),
        h("td", { class: "num" }, r.total_price === null ? "–" : yen(r.total_price)),
        h("td", { class: "num" }, r.lead_time_days === null ? "–" : t("match.days", { n: num(r.lead_time_days) })),
        h("td", {}, r.note || ""))))));
}

export async function mount(main) {
  let stopped = false;
  let timer = null;
  const list = h("div", { id: "rfq-list", "aria-live": "polite" }, h("p", {}, t("common.loading")));
  const refreshBtn = h("button", { type: "button", id: "refresh" }, t("common.refresh"));
  replace(main, h("h1", {}, t("rfqs.title")), h("div", { class: "actions" }, refreshBtn), list);

  async function load() {
    const page = await api("/v1/rfqs?limit=50");
    const items = page.items || [];
    replace(list, items.length ? items.map(rfqCard) : h("p", { class: "empty" }, t("rfqs.none")));
  }
  async function loop() {
    while (!stopped) {
      await load().catch((err) => replace(list, h("p", { class: "error", role: "alert" }, err.message)));
      await new Promise((resolve) => (timer = setTimeout(resolve, POLL_MS)));
    }
  }
  refreshBtn.addEventListener("click", () => load());
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
