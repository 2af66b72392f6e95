// Shop: the RFQs buyers sent (quote back, decline with a reason, or find a partner to pass it
// to) and the quotes priced with the shop's model (record what became of each).
import { api } from "../api.js";
import { h, newId, replace, toast } from "../dom.js";
import { date, dateTime, num, t, yen } from "../i18n.js";
import { filteredText } from "../matching.js";

const REASONS = ["capacity", "deadline", "not_manufacturable", "price", "other"];
const OUTCOMES = ["sent", "won", "lost", "no_bid"];

function labelled(label, control) {
  control.id ||= newId("f");
  return h("div", {}, h("label", { for: control.id }, label), control);
}

function partLine(part) {
  const f = part.features || {};
  const bbox = (f.bbox_mm || []).map((v) => num(v, 1)).join(" × ");
  return `${part.file_name} · ${bbox} mm · ${t(`process.${f.process || "mill"}`)}`;
}

export async function mount(main) {
  const rfqBox = h("div", { id: "inbox-rfqs" }, h("p", {}, t("common.loading")));
  const quoteBox = h("div", { id: "inbox-quotes" }, h("p", {}, t("common.loading")));
  replace(main,
    h("h1", {}, t("inbox.title")),
    h("section", { "aria-labelledby": "rfq-h" }, h("h2", { id: "rfq-h" }, t("inbox.rfqs")), h("p", { class: "help" }, t("inbox.rfqs.help")), rfqBox),
    h("section", { class: "card", "aria-labelledby": "q-h" }, h("h2", { id: "q-h" }, t("inbox.quotes")), h("p", { class: "help" }, t("inbox.quotes.help")), quoteBox));

  // ---- RFQs
  async function loadRfqs() {
    const items = (await api("/v1/rfqs?limit=50")).items || [];
    replace(rfqBox, items.length ? items.map(rfqCard) : h("p", { class: "empty card" }, t("inbox.noRfqs")));
  }

  function rfqCard(rfq) {
    const mine = rfq.recipients[0] || { status: "sent" };
    const spec = rfq.spec;
    const tol = typeof spec.tolerance === "number" ? `±${spec.tolerance} mm` : spec.tolerance || "";
    const body = h("div", { class: "answer" });
    const card = h("article", { class: "card rfq", id: `rfq-${rfq.id}`, dataset: { status: mine.status }, "aria-labelledby": `ih-${rfq.id}` },
      h("h3", { id: `ih-${rfq.id}` }, partLine(rfq.part)),
      h("p", {}, `${spec.material} · ${t("rfqs.pieces", { n: num(spec.quantity) })} · ${tol} · ${spec.finish || "none"} · ${t("inbox.due")} ${date(rfq.needed_by)}`),
      h("p", { class: "help" }, t("inbox.received"), " ", dateTime(rfq.created_at), " · ", t("inbox.hours", { n: num(rfq.rfq?.machine_hours, 1) }),
        rfq.rfq?.default_unit_price ? ` · ${t("inbox.market", { price: yen(rfq.rfq.default_unit_price) })}` : ""),
      rfq.message ? h("blockquote", {}, rfq.message) : null,
      h("p", {}, h("a", { href: `/v1/rfqs/${rfq.id}/file`, download: "" }, t("inbox.download"))),
      body);
    renderAnswer(rfq, mine, body);
    return card;
  }

  function renderAnswer(rfq, mine, body) {
    if (mine.status === "accepted") {
      replace(body, h("p", { class: "answered" }, h("span", { class: "badge ok" }, t("status.accepted")), " ",
        t("rfqs.quoted", { price: yen(mine.unit_price), days: num(mine.lead_time_days) })));
      return;
    }
    if (mine.status === "declined") {
      replace(body, h("p", { class: "answered" }, h("span", { class: "badge err" }, t("status.declined")), " ",
        t(`inbox.reason.${mine.decline_reason}`, { name: mine.decline_reason }), mine.note ? ` — ${mine.note}` : ""));
      return;
    }
    const acceptBtn = h("button", { type: "button", class: "primary", dataset: { action: "accept" } }, t("inbox.accept"));
    const declineBtn = h("button", { type: "button", class: "danger", dataset: { action: "decline" } }, t("inbox.decline"));
    const partnersBtn = h("button", { type: "button", dataset: { action: "partners" } }, t("inbox.partners"));
    const panel = h("div", { class: "panel" });
    replace(body, h("div", { class: "actions" }, acceptBtn, declineBtn, partnersBtn), panel);
    acceptBtn.addEventListener("click", () => answerForm(rfq, "accept", panel, body));
    declineBtn.addEventListener("click", () => answerForm(rfq, "decline", panel, body));
    partnersBtn.addEventListener("click", () => showPartners(rfq, panel));
  }

  function answerForm(rfq, action, panel, body) {
    const status = h("p", { "aria-live": "polite" });
    const note = h("textarea", { rows: 2, maxlength: 2000, name: "note" });
    const fields = [];
    let price = null, lead = null, reason = null;
    if (action === "accept") {
      price = h("input", { type: "number", min: 1, step: 1, name: "unit_price", inputmode: "numeric", "aria-describedby": `${rfq.id}-price-help` });
      lead = h("input", { type: "number", min: 1, max: 365, step: 1, name: "lead_time_days", inputmode: "numeric" });
      fields.push(labelled(t("inbox.unitPrice"), price), h("p", { class: "help", id: `${rfq.id}-price-help` }, t("inbox.unitPrice.help")), labelled(t("inbox.leadDays"), lead));
    } else {
      reason = h("select", { name: "reason", required: true }, REASONS.map((r) => h("option", { value: r }, t(`inbox.reason.${r}`))));
      fields.push(labelled(t("inbox.declineReason"), reason));
    }
    const submit = h("button", { type: "submit", class: "primary" }, t("inbox.send"));
    const cancel = h("button", { type: "button" }, t("inbox.cancel"));
    const form = h("form", { class: "answer-form", dataset: { action } },
      h("fieldset", {}, h("legend", {}, action === "accept" ? t("inbox.accept") : t("inbox.decline")), fields, labelled(t("inbox.note"), note),
        h("div", { class: "actions" }, submit, cancel)), status);
    cancel.addEventListener("click", () => replace(panel));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const json = { action };
      if (note.value.trim()) json.note = note.value.trim();
      if (price?.value) json.unit_price = Number(price.value);
      if (lead?.value) json.lead_time_days = Number(lead.value);
      if (reason) json.reason = reason.value;
      submit.disabled = true;
      try {
        const updated = await api(`/v1/rfqs/${rfq.id}/respond`, { method: "POST", json });
        const mine = updated.recipients[0];
        body.closest("article").dataset.status = mine.status;
        renderAnswer(updated, mine, body);
        toast(t("inbox.answered"));
        loadQuotes();
      } catch (err) {
        status.textContent = err.message;
        status.setAttribute("role", "alert");
        submit.disabled = false;
      }
    });
    replace(panel, form);
    form.querySelector("input, select")?.focus();
  }

  async function showPartners(rfq, panel) {
    replace(panel, h("p", {}, t("match.searching")));
    try {
      const res = await api(`/v1/rfqs/${rfq.id}/partners`, { method: "POST", json: { k: 5 } });
      replace(panel, h("h4", {}, t("inbox.partners")), h("p", { class: "help" }, t("inbox.partners.help"), " ", filteredText(res.filtered)),
        res.shops.length
          ? h("ol", { class: "partners" }, res.shops.map((s) => h("li", {}, h("strong", {}, s.name), ` · ${yen(s.unit_price)} · ${t("match.days", { n: num(s.lead_time_days) })} · ${s.distance_km === null ? "" : `${num(s.distance_km)} km`}`,
            h("ul", { class: "reasons" }, s.reasons.map((r) => h("li", {}, r))))))
          : h("p", { class: "empty" }, t("match.none")));
    } catch (err) {
      replace(panel, h("p", { class: "error", role: "alert" }, err.message));
    }
  }

  // ---- quotes priced with this shop's model
  async function loadQuotes() {
    const items = (await api("/v1/quotes?limit=30")).items || [];
    if (!items.length) return replace(quoteBox, h("p", { class: "empty" }, t("inbox.noQuotes")));
    replace(quoteBox, h("table", { id: "shop-quotes" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("rfqs.sentAt")), h("th", { scope: "col" }, t("spec.material")), h("th", { scope: "col", class: "num" }, t("quote.quantity")),
        h("th", { scope: "col", class: "num" }, t("quote.unit")), h("th", { scope: "col" }, t("inbox.status")), h("th", { scope: "col" }, t("inbox.outcome")))),
      h("tbody", {}, items.map(quoteRow))));
  }

  function quoteRow(q) {
    const select = h("select", { "aria-label": t("inbox.outcomeFor", { id: q.id.slice(-6) }) }, OUTCOMES.map((o) => h("option", { value: o, selected: o === q.status }, t(`status.${o}`))));
    const btn = h("button", { type: "button" }, t("inbox.record"));
    const cell = h("td", {}, h("span", { class: "badge muted" }, t(`status.${q.status}`)));
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        const res = await api(`/v1/quotes/${q.id}/outcome`, { method: "POST", json: { status: select.value } });
        replace(cell, h("span", { class: "badge ok" }, t(`status.${res.status}`)));
        toast(t("inbox.recorded"));
      } catch (err) {
        toast(err.message);
      } finally {
        btn.disabled = false;
      }
    });
    return h("tr", {}, h("td", {}, dateTime(q.created_at)), h("td", {}, q.material), h("td", { class: "num" }, num(q.quantity)),
      h("td", { class: "num" }, yen(q.unit_price)), cell, h("td", {}, h("div", { class: "actions" }, select, btn)));
  }

  await Promise.all([
    loadRfqs().catch((err) => replace(rfqBox, h("p", { class: "error", role: "alert" }, err.message))),
    loadQuotes().catch((err) => replace(quoteBox, h("p", { class: "error", role: "alert" }, err.message))),
  ]);
}
