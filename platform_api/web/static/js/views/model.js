// Shop: import past quotes (CSV + zip of part files) with progress and errors by row; the shop's
// pricing model, its backtest accuracy, and a retrain button.
import { api, upload } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { dateTime, num, pct, t } from "../i18n.js";

const POLL_MS = 700;

export async function mount(main, { me }) {
  const shopId = me.organization.id;
  let stopped = false;
  const timers = new Set();
  const sleep = (ms) => new Promise((resolve) => timers.add(setTimeout(resolve, ms)));

  // ---- history import
  const csv = h("input", { type: "file", id: "history-csv", accept: ".csv,text/csv", required: true, "aria-describedby": "csv-help" });
  const zip = h("input", { type: "file", id: "history-zip", accept: ".zip,application/zip", required: true });
  const importBtn = h("button", { type: "submit", class: "primary", id: "import-btn" }, t("history.import"));
  const bar = h("progress", { id: "import-progress", max: 100, value: 0, "aria-labelledby": "import-status" });
  const statusLine = h("p", { id: "import-status", "aria-live": "polite" });
  const errorsBox = h("div", { id: "import-errors" });
  const form = h("form", { id: "history-form", novalidate: true },
    h("label", { for: "history-csv" }, t("history.csv")), csv,
    h("p", { class: "help", id: "csv-help" }, t("history.csv.help")),
    h("label", { for: "history-zip" }, t("history.zip")), zip,
    h("div", { class: "actions" }, importBtn),
    h("div", { class: "progress-line", hidden: true, id: "import-line" }, bar), statusLine, errorsBox);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!csv.files.length || !zip.files.length) {
      statusLine.textContent = t("history.needBoth");
      return;
    }
    importBtn.disabled = true;
    form.querySelector("#import-line").hidden = false;
    replace(errorsBox);
    const body = new FormData();
    body.append("history", csv.files[0], csv.files[0].name);
    body.append("parts", zip.files[0], zip.files[0].name);
    try {
      const job = await upload(`/v1/shops/${shopId}/history`, body, (share, phase) => {
        bar.value = Math.round(share * 30); // the upload is the first 30% of the bar
        statusLine.textContent = phase === "upload" ? t("upload.percent", { pct: Math.round(share * 100) }) : t("history.queued");
      });
      const done = await follow(job, (j) => {
        bar.value = 30 + Math.round(j.progress * 70);
        statusLine.textContent = `${t(`job.${j.status}`)} — ${j.message || ""} (${Math.round(j.progress * 100)}%)`;
      });
      bar.value = 100;
      statusLine.textContent = done.status === "succeeded"
        ? t("history.done", { ok: num(done.result.rows_imported ?? 0), bad: num(done.result.rows_rejected ?? done.errors.length) })
        : t("job.failedWith", { message: done.message });
      renderRowErrors(done.errors || []);
    } catch (err) {
      statusLine.textContent = err.message;
    } finally {
      importBtn.disabled = false;
    }
  });

  function renderRowErrors(errors) {
    if (!errors.length) return replace(errorsBox);
    replace(errorsBox, h("h3", {}, t("history.rowErrors", { n: errors.length })),
      h("div", { class: "row-errors", tabindex: 0, role: "region", "aria-label": t("history.rowErrors", { n: errors.length }) },
        h("table", { id: "row-errors" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, t("history.line")), h("th", { scope: "col" }, t("history.code")), h("th", { scope: "col" }, t("history.message")))),
          h("tbody", {}, errors.map((er) => h("tr", {}, h("td", { class: "num" }, String(er.line ?? "")), h("td", {}, er.error || ""), h("td", {}, er.message || "")))))));
  }

  /** Poll a job until it ends, calling `onTick` with each state. */
  async function follow(job, onTick) {
    let j = job;
    while (!stopped) {
      onTick(j);
      if (j.status === "succeeded" || j.status === "failed") return j;
      await sleep(POLL_MS);
      j = await api(`/v1/jobs/${j.id}`);
    }
    return j;
  }

  // ---- model
  const modelBox = h("div", { id: "model-box", "aria-live": "polite" }, h("p", {}, t("common.loading")));
  const trainBtn = h("button", { type: "button", class: "primary", id: "retrain" }, t("model.retrain"));
  const trainBar = h("progress", { id: "train-progress", max: 100, value: 0, hidden: true, "aria-labelledby": "train-status" });
  const trainStatus = h("p", { id: "train-status", "aria-live": "polite" });
  trainBtn.addEventListener("click", async () => {
    trainBtn.disabled = true;
    trainBar.hidden = false;
    try {
      const job = await api(`/v1/shops/${shopId}/model/train`, { method: "POST", json: {} });
      const done = await follow(job, (j) => {
        trainBar.value = Math.round(j.progress * 100);
        trainStatus.textContent = `${t(`job.${j.status}`)} — ${j.message || ""}`;
      });
      trainStatus.textContent = done.status === "succeeded" ? t("model.trained", { mape: pct(done.result.metrics?.price_mape, 1) }) : t("job.failedWith", { message: done.message });
      if (done.status === "succeeded") toast(trainStatus.textContent);
      await loadModels();
    } catch (err) {
      trainStatus.textContent = err.message;
    } finally {
      trainBtn.disabled = false;
    }
  });

  async function loadModels() {
    const page = await api(`/v1/shops/${shopId}/models?limit=20`);
    const models = page.items || [];
    const active = models.find((m) => m.active) || models[0];
    if (!active) {
      replace(modelBox, h("p", { class: "empty" }, t("model.none")));
      return;
    }
    const m = active.metrics || {};
    const stat = (k, v, note) => h("div", { class: "stat" }, h("div", { class: "v" }, v), h("div", { class: "k" }, t(k)), note ? h("div", { class: "help" }, note) : null);
    replace(modelBox,
      h("p", {}, t("model.active", { version: active.version, when: dateTime(active.created_at), rows: num(active.training_rows) })),
      h("div", { class: "grid stats", id: "backtest" },
        stat("model.mape", pct(m.price_mape, 1), m.base_price_mape !== undefined ? t("model.vsDefault", { base: pct(m.base_price_mape, 1) }) : null),
        stat("model.medianApe", pct(m.price_median_ape, 1)),
        stat("model.coverage", pct(m.price_coverage_90, 0), t("model.coverage.help")),
        stat("model.leadMae", m.lead_mae_days === undefined ? "–" : t("model.days", { n: num(m.lead_mae_days, 1) }))),
      h("p", { class: "help" }, t("model.backtestHelp", { folds: m.backtest_folds ?? "–" })),
      models.length > 1 ? h("details", {}, h("summary", {}, t("model.history")),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("model.version")), h("th", { scope: "col" }, t("model.when")), h("th", { scope: "col", class: "num" }, t("model.rows")), h("th", { scope: "col", class: "num" }, t("model.mape")))),
          h("tbody", {}, models.map((x) => h("tr", {}, h("td", {}, x.version, x.active ? h("span", { class: "badge ok" }, ` ${t("model.inUse")}`) : null), h("td", {}, dateTime(x.created_at)), h("td", { class: "num" }, num(x.training_rows)), h("td", { class: "num" }, pct(x.metrics?.price_mape, 1))))))) : null);
  }

  replace(main,
    h("h1", {}, t("nav.model")),
    h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "hist-h" }, h("h2", { id: "hist-h" }, t("history.title")), h("p", { class: "help" }, t("history.help")), form),
      h("section", { class: "card", "aria-labelledby": "model-h" }, h("h2", { id: "model-h" }, t("model.title")), modelBox,
        h("div", { class: "actions" }, trainBtn), trainBar, trainStatus)));
  await loadModels().catch((err) => replace(modelBox, h("p", { class: "error" }, err.message)));
  return () => {
    stopped = true;
    for (const tm of timers) clearTimeout(tm);
  };
}
