// Bootstrap: language, who is signed in, the navigation of their role, and the view router.
import { api } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { initialLang, lang, loadStrings, rememberLang, t } from "./i18n.js";

const NAV = {
  buyer: [
    ["quote", "nav.quote"],
    ["rfqs", "nav.rfqs"],
  ],
  shop: [
    ["inbox", "nav.inbox"],
    ["performance", "nav.performance"],
    ["model", "nav.model"],
    ["machines", "nav.machines"],
  ],
};
const VIEWS = {
  quote: () => import("./views/quote.js"),
  rfqs: () => import("./views/rfqs.js"),
  inbox: () => import("./views/inbox.js"),
  performance: () => import("./views/performance.js"),
  model: () => import("./views/model.js"),
  machines: () => import("./views/machines.js"),
};

const state = { me: null, unmount: null };

function currentView() {
  const name = location.pathname.replace(/^\/app\/?/, "").split("/")[0];
  const allowed = NAV[state.me.organization.kind] || [];
  if (allowed.some(([v]) => v === name)) return name;
  return allowed.length ? allowed[0][0] : null;
}

function renderChrome() {
  const kind = state.me.organization.kind;
  const view = currentView();
  const items = (NAV[kind] || []).map(([name, key]) =>
    h("li", {}, h("a", { href: `/app/${name}`, "aria-current": name === view ? "page" : null, dataset: { view: name } }, t(key))),
  );
  replace(document.getElementById("nav"), h("ul", {}, items));
  replace(
    document.getElementById("who"),
    h("span", {}, state.me.organization.name, " · ", t(`role.${kind}`)),
  );
  const other = lang() === "en" ? "ja" : "en";
  const sw = document.getElementById("lang-switch");
  sw.textContent = t("lang.switch");
  sw.setAttribute("lang", other);
  document.querySelector("form.logout button").textContent = t("nav.logout");
  document.querySelector(".skip").textContent = t("nav.skip");
  document.getElementById("nav").setAttribute("aria-label", t("nav.label"));
}

async function route({ focus = false } = {}) {
  if (state.unmount) {
    state.unmount();
    state.unmount = null;
  }
  renderChrome();
  document.getElementById("toast").textContent = "";
  window.scrollTo(0, 0);
  const main = document.getElementById("main");
  const view = currentView();
  if (!view) {
    replace(main, h("div", { class: "card" }, h("h1", {}, t("admin.title")), h("p", {}, t("admin.body"))));
    return;
  }
  if (location.pathname !== `/app/${view}`) history.replaceState(null, "", `/app/${view}${location.search}`);
  const mod = await VIEWS[view]();
  replace(main);
  document.title = `${t(`nav.${view}`)} · Mitsumori`;
  state.unmount = (await mod.mount(main, { me: state.me, rerender: () => route() })) || null;
  if (focus) main.focus({ preventScroll: true });
}

async function start() {
  await loadStrings(initialLang());
  try {
    state.me = await api("/v1/me");
  } catch (err) {
    replace(document.getElementById("main"), h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  document.getElementById("nav").addEventListener("click", (e) => {
    const a = e.target.closest("a[data-view]");
    if (!a || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    history.pushState(null, "", a.getAttribute("href"));
    route({ focus: true });
  });
  window.addEventListener("popstate", () => route());
  document.getElementById("lang-switch").addEventListener("click", async () => {
    const next = lang() === "en" ? "ja" : "en";
    rememberLang(next);
    await loadStrings(next);
    await route();
    toast(t("lang.changed"));
  });
  await route();
}

window.addEventListener("unhandledrejection", (e) => {
  toast(e.reason?.message || String(e.reason));
});

start();
