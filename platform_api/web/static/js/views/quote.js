// Buyer: drop a part, see it in 3D, set the spec, watch the quote follow, find shops, send an RFQ.
import { api, listAll, upload } from "../api.js";
import { breakdownChart, priceBreaksChart } from "../charts.js";
import { debounce, h, newId, replace, toast } from "../dom.js";
import { date, num, t, yen } from "../i18n.js";
import { filteredText, matchRequest, rfqRequest } from "../matching.js";

const BREAK_QUANTITIES = [1, 5, 10, 50, 100, 500];
const ACCEPT = ".step,.stp,.stl,.obj,.ply,.3mf,.glb";

let catalogPromise = null;
function catalog() {
  catalogPromise ||= fetch("/app/catalog.json").then((r) => r.json());
  return catalogPromise;
}

function field(label, control, help) {
  const id = control.id || newId("f");
  control.id = id;
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, help ? h("p", { class: "help", id: helpId }, help) : null);
}

function defaultDueDate() {
  const d = new Date();
  d.setDate(d.getDate() + 21);
  return d.toISOString().slice(0, 10);
}

export async function mount(main, { me }) {
  const params = new URLSearchParams(location.search);
  const state = {
    part: null,
    quote: null,
    seq: 0,
    viewer: null,
    match: null,
    spec: {
      material: params.get("material") || "A5052",
      quantity: Number(params.get("quantity")) || 10,
      tolerance: params.get("tolerance") || "ISO2768-m",
      finish: params.get("finish") || "none",
      due_date: params.get("due") || defaultDueDate(),
      shop: params.get("shop") || "",
    },
  };
  const cat = await catalog();
  const shops = await listAll("/v1/shops", 200).catch(() => []);

  // ---- upload
  const fileInput = h("input", { type: "file", id: "part-file", accept: ACCEPT, "aria-describedby": "drop-help" });
  const progress = h("progress", { max: 100, value: 0, "aria-label": t("upload.progress") });
  const progressText = h("span", { id: "upload-status", "aria-live": "polite" });
  const progressLine = h("div", { class: "progress-line", hidden: true }, progress, progressText);
  const drop = h("label", { class: "dropzone", for: "part-file", id: "dropzone" },
    h("strong", {}, t("upload.drop")),
    h("span", { id: "drop-help" }, t("upload.help")),
    h("br"), fileInput);
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) sendFile(e.dataTransfer.files[0]);
  });
  fileInput.addEventListener("change", () => fileInput.files.length && sendFile(fileInput.files[0]));

  // ---- viewer + DFM
  const viewerBox = h("div", { class: "viewer", id: "viewer", "data-state": "empty" }, h("p", { class: "fallback" }, t("viewer.empty")));
  const dfmList = h("div", { id: "dfm" });
  const partTitle = h("h2", { id: "part-title" }, t("viewer.title"));
  const partFacts = h("p", { class: "help", id: "part-facts" });

  // ---- spec form
  const material = h("select", { id: "material", name: "material" },
    groupMaterials(cat.materials).map(([family, items]) =>
      h("optgroup", { label: t(`family.${family}`) }, items.map((m) => h("option", { value: m.name, selected: m.name === state.spec.material }, `${m.name} — ${m.description}`)))));
  const quantity = h("input", { type: "number", id: "quantity", name: "quantity", min: 1, max: 1000000, step: 1, value: state.spec.quantity, inputmode: "numeric" });
  const tolerance = h("select", { id: "tolerance", name: "tolerance" },
    cat.tolerances.classes.map((c) => h("option", { value: c, selected: c === state.spec.tolerance }, t(`tol.${c.slice(-1)}`, { name: c }))),
    ["0.05", "0.02", "0.01"].map((v) => h("option", { value: v, selected: v === state.spec.tolerance }, t("tol.explicit", { mm: v }))));
  const finish = h("select", { id: "finish", name: "finish" });
  const due = h("input", { type: "date", id: "due", name: "due_date", value: state.spec.due_date, min: new Date().toISOString().slice(0, 10) });
  const pricedBy = h("select", { id: "priced-by", name: "shop" },
    h("option", { value: "" }, t("spec.platform")),
    shops.map((s) => h("option", { value: s.id, selected: s.id === state.spec.shop }, s.name)));
  const form = h("form", { id: "spec-form", novalidate: true },
    h("fieldset", { disabled: true, id: "spec-fields" },
      h("legend", {}, t("spec.title")),
      field(t("spec.material"), material),
      h("div", { class: "form-row" }, field(t("spec.quantity"), quantity, t("spec.quantity.help")), field(t("spec.due"), due)),
      h("div", { class: "form-row" }, field(t("spec.tolerance"), tolerance), field(t("spec.finish"), finish)),
      field(t("spec.pricedBy"), pricedBy, t("spec.pricedBy.help"))));
  form.addEventListener("submit", (e) => e.preventDefault());

  function fillFinishes() {
    const fam = cat.materials.find((m) => m.name === material.value)?.family;
    const allowed = cat.finishes.filter((f) => f.name === "none" || !f.families.length || f.families.includes(fam));
    if (!allowed.some((f) => f.name === state.spec.finish)) state.spec.finish = "none";
    replace(finish, allowed.map((f) => h("option", { value: f.name, selected: f.name === state.spec.finish }, f.name === "none" ? t("finish.none") : `${f.name.replaceAll("_", " ")} — ${f.description}`)));
  }
  fillFinishes();

  // ---- quote panel
  const summary = h("div", { id: "quote-summary", "aria-live": "polite", "aria-atomic": "true" }, h("p", { class: "empty" }, t("quote.none")));
  const quoteBody = h("div", { id: "quote-body" });
  const quoteCard = h("section", { class: "card", "aria-labelledby": "quote-h" }, h("h2", { id: "quote-h" }, t("quote.title")), summary, quoteBody);

  // ---- find shops
  const findBtn = h("button", { type: "button", class: "primary", id: "find-shops", disabled: true }, t("match.find"));
  const matchBox = h("div", { id: "match-results", "aria-live": "polite" });
  const matchCard = h("section", { class: "card", "aria-labelledby": "match-h" }, h("h2", { id: "match-h" }, t("match.title")), h("p", { class: "help" }, t("match.help")), findBtn, matchBox);
  findBtn.addEventListener("click", findShops);

  replace(main,
    h("h1", {}, t("quote.page")),
    h("div", { class: "grid quote-layout" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "upload-h" }, h("h2", { id: "upload-h" }, t("upload.title")), drop, progressLine),
        h("section", { class: "card", "aria-labelledby": "part-title" }, partTitle, partFacts, viewerBox,
          h("p", { class: "help" }, t("viewer.help")), dfmList)),
      h("div", {}, h("section", { class: "card" }, form), quoteCard)),
    matchCard);

  // ---- behaviour
  const requote = debounce(() => requestQuote(), 350);
  form.addEventListener("input", (e) => {
    if (e.target === material) fillFinishes();
    readSpec();
    requote();
  });
  form.addEventListener("change", () => {
    readSpec();
    requote();
  });

  function readSpec() {
    state.spec = {
      material: material.value,
      quantity: Math.max(1, Math.min(1000000, Math.round(Number(quantity.value) || 1))),
      tolerance: tolerance.value,
      finish: finish.value,
      due_date: due.value,
      shop: pricedBy.value,
    };
    syncUrl();
  }

  function syncUrl() {
    const p = new URLSearchParams();
    if (state.part) p.set("part", state.part.id);
    p.set("material", state.spec.material);
    p.set("quantity", String(state.spec.quantity));
    p.set("tolerance", state.spec.tolerance);
    p.set("finish", state.spec.finish);
    if (state.spec.due_date) p.set("due", state.spec.due_date);
    if (state.spec.shop) p.set("shop", state.spec.shop);
    history.replaceState(null, "", `${location.pathname}?${p}`);
  }

  async function sendFile(file) {
    progressLine.hidden = false;
    progress.value = 0;
    progressText.textContent = t("upload.sending", { name: file.name });
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const part = await upload("/v1/parts", body, (share, phase) => {
        progress.value = Math.round(share * 100);
        progressText.textContent = phase === "upload" ? t("upload.percent", { pct: Math.round(share * 100) }) : t("upload.analysing");
      });
      progressText.textContent = t("upload.done", { name: part.file_name });
      await showPart(part);
    } catch (err) {
      progressText.textContent = t("upload.failed", { message: err.message });
      progressText.setAttribute("role", "alert");
    }
  }

  async function showPart(part) {
    state.part = part;
    state.match = null;
    replace(matchBox);
    syncUrl();
    document.getElementById("spec-fields").disabled = false;
    findBtn.disabled = false;
    const f = part.features || {};
    replace(partTitle, t("viewer.part", { name: part.file_name }));
    partFacts.textContent = t("viewer.facts", {
      x: num(f.bbox_mm?.[0], 1), y: num(f.bbox_mm?.[1], 1), z: num(f.bbox_mm?.[2], 1),
      volume: num((f.volume_mm3 || 0) / 1000, 1), process: t(`process.${f.process || "mill"}`),
    });
    renderDfm(part.dfm || []);
    replace(viewerBox, h("p", { class: "fallback" }, t("viewer.loading")));
    viewerBox.dataset.state = "loading";
    try {
      state.viewer?.dispose();
      const { PartViewer } = await import("../viewer.js");
      replace(viewerBox);
      state.viewer = new PartViewer(viewerBox, { label: t("viewer.label", { name: part.file_name }), onPick: (i) => focusFinding(i) });
      viewerBox.append(h("div", { class: "viewer-tools" },
        h("button", { type: "button", onclick: () => state.viewer.zoom(0.8), "aria-label": t("viewer.zoomIn") }, "+"),
        h("button", { type: "button", onclick: () => state.viewer.zoom(1.25), "aria-label": t("viewer.zoomOut") }, "−"),
        h("button", { type: "button", onclick: () => state.viewer.resetView() }, t("viewer.reset"))),
        h("p", { class: "overlay" }, t("viewer.keys")));
      await state.viewer.load(`/v1/parts/${part.id}/mesh`);
      state.viewer.setMarkers(findings());
    } catch (err) {
      viewerBox.dataset.state = "failed";
      replace(viewerBox, h("p", { class: "fallback", role: "alert" }, t("viewer.failed", { message: err.message })));
    }
    await requestQuote();
  }

  function findings() {
    const list = state.quote?.dfm?.length ? state.quote.dfm : state.part?.dfm || [];
    return list.map((w, i) => ({ ...w, index: i + 1 }));
  }

  function renderDfm() {
    const items = findings();
    if (!items.length) {
      replace(dfmList, h("h3", {}, t("dfm.title")), h("p", { class: "empty" }, t("dfm.none")));
      return;
    }
    replace(dfmList, h("h3", {}, t("dfm.title"), " ", h("span", { class: "badge muted" }, String(items.length))),
      h("ol", { class: "dfm", id: "dfm-list" }, items.map((w) =>
        h("li", { id: `dfm-${w.index}`, dataset: { index: w.index } },
          h("button", { type: "button", onclick: () => focusFinding(w.index), "aria-describedby": `dfm-msg-${w.index}` },
            h("span", { class: `sev ${w.severity}` }, t(`sev.${w.severity}`)), h("strong", {}, t(`dfm.${w.code}`, { code: w.code }))),
          h("div", { id: `dfm-msg-${w.index}` }, w.message),
          w.location_mm ? null : h("div", { class: "help" }, t("dfm.noLocation"))))));
    state.viewer?.setMarkers(items);
  }

  function focusFinding(index) {
    state.viewer?.highlight(index);
    dfmList.querySelectorAll("li").forEach((li) => li.classList.toggle("active", Number(li.dataset.index) === index));
    dfmList.querySelector(`#dfm-${index} button`)?.focus({ preventScroll: false });
  }

  async function requestQuote() {
    if (!state.part) return;
    const seq = ++state.seq;
    const spec = state.spec;
    const quantities = [...new Set([...BREAK_QUANTITIES, spec.quantity])].sort((a, b) => a - b);
    const tol = /^\d/.test(spec.tolerance) ? Number(spec.tolerance) : spec.tolerance;
    const body = { part_id: state.part.id, material: spec.material, quantity: spec.quantity, quantities, tolerance: tol, finish: spec.finish };
    if (spec.due_date) body.due_date = spec.due_date;
    if (spec.shop) body.shop = spec.shop;
    quoteCard.classList.add("updating");
    quoteCard.setAttribute("aria-busy", "true");
    try {
      const q = await api("/v1/quotes", { method: "POST", json: body });
      if (seq !== state.seq) return; // a newer request is on its way
      state.quote = q;
      renderQuote(q);
      renderDfm();
    } catch (err) {
      if (seq !== state.seq) return;
      replace(summary, h("p", { class: "error", role: "alert" }, err.message));
      replace(quoteBody);
    } finally {
      if (seq === state.seq) {
        quoteCard.classList.remove("updating");
        quoteCard.removeAttribute("aria-busy");
      }
    }
  }

  function renderQuote(q) {
    const [lo, hi] = q.unit_price_interval || [];
    replace(summary,
      h("p", { class: "price", id: "unit-price", dataset: { value: q.unit_price } }, yen(q.unit_price), " ", h("small", {}, t("quote.perPiece"))),
      h("p", { id: "total-price" }, t("quote.totalLine", { total: yen(q.total_price), qty: num(q.quantity), material: q.material })),
      lo !== undefined ? h("p", { class: "interval" }, t("quote.interval", { lo: yen(lo), hi: yen(hi), cov: Math.round((q.interval_coverage || 0.9) * 100) })) : null,
      h("p", { class: "help" }, t("quote.lead", { days: num(q.lead_time_days), lo: num(q.lead_time_interval?.[0]), hi: num(q.lead_time_interval?.[1]) })));
    const tiers = h("table", { id: "lead-tiers" },
      h("caption", { class: "visually-hidden" }, t("quote.tiers")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("quote.tier")), h("th", { scope: "col", class: "num" }, t("quote.days")), h("th", { scope: "col" }, t("quote.ships")), h("th", { scope: "col", class: "num" }, t("quote.unit")), h("th", { scope: "col", class: "num" }, t("quote.total")))),
      h("tbody", {}, (q.lead_time_tiers || []).map((tier) => h("tr", { class: tier.name === "standard" ? "chosen" : null },
        h("td", {}, t(`tier.${tier.name}`, { name: tier.name })), h("td", { class: "num" }, num(tier.days)), h("td", {}, date(tier.ship_date)),
        h("td", { class: "num" }, yen(tier.unit_price)), h("td", { class: "num" }, yen(tier.total_price))))));
    const warnings = (q.warnings || []).filter((w) => w.severity !== "info" || w.code === "due_date_not_met");
    replace(quoteBody,
      warnings.length ? h("ul", { class: "reasons", id: "quote-warnings" }, warnings.map((w) => h("li", {}, h("span", { class: `sev ${w.severity}` }, t(`sev.${w.severity}`)), w.message))) : null,
      h("h3", {}, t("quote.tiers")), tiers,
      h("div", { class: "grid two" },
        h("div", {}, h("h3", {}, t("chart.breaks.title")), priceBreaksChart(q.price_breaks || [], q.quantity)),
        h("div", {}, h("h3", {}, t("chart.breakdown.title")), breakdownChart(q.breakdown || {}))),
      h("details", { id: "reasons" }, h("summary", {}, t("quote.why")),
        h("ul", { class: "reasons" }, (q.explanation || []).map((line) => h("li", {}, line))),
        h("p", { class: "help" }, t("quote.model", { version: q.model?.version || "" }))));
  }

  async function findShops() {
    if (!state.part) return;
    findBtn.disabled = true;
    replace(matchBox, h("p", {}, t("match.searching")));
    try {
      if (!state.spec.due_date) throw new Error(t("match.needDate"));
      state.match = await api("/v1/match", { method: "POST", json: matchRequest(state.part.id, state.spec) });
      renderMatch();
    } catch (err) {
      replace(matchBox, h("p", { class: "error", role: "alert" }, err.message));
    } finally {
      findBtn.disabled = false;
    }
  }

  function renderMatch() {
    const m = state.match;
    if (!m.shops.length) {
      replace(matchBox, h("p", { class: "empty" }, t("match.none")), h("p", { class: "help" }, filteredText(m.filtered)));
      return;
    }
    const sendBtn = h("button", { type: "button", class: "primary", id: "send-rfq", disabled: true }, t("rfq.send", { n: 0 }));
    const note = h("textarea", { id: "rfq-note", rows: 2, maxlength: 2000 });
    const table = h("table", { id: "shop-results" },
      h("caption", { class: "visually-hidden" }, t("match.title")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("match.choose"))), h("th", { scope: "col" }, "#"),
        h("th", { scope: "col" }, t("match.shop")), h("th", { scope: "col", class: "num" }, t("quote.unit")),
        h("th", { scope: "col", class: "num" }, t("match.lead")), h("th", { scope: "col", class: "num" }, t("match.spare")),
        h("th", { scope: "col", class: "num" }, t("match.distance")), h("th", { scope: "col" }, t("match.reasons")))),
      h("tbody", {}, m.shops.map((r, i) => {
        const id = `pick-${r.shop_id}`;
        return h("tr", { dataset: { shop: r.shop_id } },
          h("td", {}, h("input", { type: "checkbox", id, value: r.shop_id, checked: i < 3 })),
          h("td", {}, String(i + 1)),
          h("td", {}, h("label", { for: id }, r.name), r.city ? h("div", { class: "help" }, r.city) : null),
          h("td", { class: "num" }, yen(r.unit_price)),
          h("td", { class: "num" }, r.lead_time_days === null ? "–" : t("match.days", { n: num(r.lead_time_days) })),
          h("td", { class: "num" }, t("match.hours", { n: num(r.spare_hours, 0) })),
          h("td", { class: "num" }, r.distance_km === null ? "–" : `${num(r.distance_km)} km`),
          h("td", {}, h("ul", { class: "reasons" }, r.reasons.map((x) => h("li", {}, x)))));
      })));
    const count = () => table.querySelectorAll("input[type=checkbox]:checked").length;
    const refresh = () => {
      const n = count();
      sendBtn.textContent = t("rfq.send", { n });
      sendBtn.disabled = n === 0;
    };
    table.addEventListener("change", refresh);
    const status = h("p", { id: "rfq-status", "aria-live": "polite" });
    sendBtn.addEventListener("click", async () => {
      const chosen = [...table.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
      sendBtn.disabled = true;
      try {
        const rfq = await api("/v1/rfqs", { method: "POST", json: rfqRequest(m.id, chosen, note.value) });
        replace(status, h("span", { class: "badge ok" }, t("rfq.sent", { n: chosen.length })), " ", h("a", { href: "/app/rfqs" }, t("rfq.track")));
        status.dataset.rfq = rfq.id;
        toast(t("rfq.sent", { n: chosen.length }));
      } catch (err) {
        replace(status, h("span", { class: "error", role: "alert" }, err.message));
        sendBtn.disabled = false;
      }
    });
    replace(matchBox,
      h("p", { class: "help", id: "match-summary" }, t("match.summary", { n: m.shops.length, candidates: m.candidates, hours: num(m.rfq?.machine_hours, 1) }), " ", filteredText(m.filtered)),
      table,
      h("label", { for: "rfq-note" }, t("rfq.note")), note,
      h("div", { class: "actions" }, sendBtn), status);
    refresh();
  }

  // Restore a part from the URL (after a reload or the language switch).
  const partId = params.get("part");
  if (partId) {
    try {
      await showPart(await api(`/v1/parts/${encodeURIComponent(partId)}`));
    } catch {
      syncUrl();
    }
  }
  return () => {
    requote.cancel();
    state.viewer?.dispose();
  };
}

function groupMaterials(materials) {
  const groups = new Map();
  for (const m of materials) {
    if (!groups.has(m.family)) groups.set(m.family, []);
    groups.get(m.family).push(m);
  }
  return [...groups.entries()];
}
