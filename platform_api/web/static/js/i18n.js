// UI strings (static/i18n/{en,ja}.json, the same files the server renders the sign-in page from)
// and number/date formatting in the user's language.
let strings = {};
let current = "en";

export const LANGS = ["en", "ja"];

export async function loadStrings(lang) {
  const res = await fetch(`/app/static/i18n/${lang}.json`, { credentials: "same-origin" });
  strings = await res.json();
  current = lang;
  document.documentElement.lang = lang;
}

export function lang() {
  return current;
}

/** The string for `key`, with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** The language to start in: the switch's cookie, else the page's (from Accept-Language),
 * else the browser's navigator.language. */
export function initialLang() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("mitsumori_lang="));
  if (cookie) return cookie.split("=")[1];
  const page = document.documentElement.lang;
  if (LANGS.includes(page)) return page;
  return (navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
}

export function rememberLang(value) {
  document.cookie = `mitsumori_lang=${value}; path=/app; max-age=31536000; samesite=lax`;
}

const locale = () => (current === "ja" ? "ja-JP" : "en-US");

export function yen(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "JPY", maximumFractionDigits: 0 }).format(value);
}

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
}

export function pct(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: digits }).format(value);
}

export function date(value) {
  if (!value) return "–";
  const d = typeof value === "string" && value.length === 10 ? new Date(`${value}T00:00:00`) : new Date(value);
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "short", day: "numeric" }).format(d);
}

export function dateTime(value) {
  if (!value) return "–";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(value));
}

export function weekday(index) {
  // Monday first, as the capacity arrays are.
  const base = new Date(Date.UTC(2024, 0, 1 + index)); // 2024-01-01 was a Monday
  return new Intl.DateTimeFormat(locale(), { weekday: "short", timeZone: "UTC" }).format(base);
}
