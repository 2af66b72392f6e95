// The /v1 API from the browser: same origin, the session cookie authenticates, and every
// request that changes data carries the page's CSRF token.
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error || "http_error";
    this.detail = body?.detail || {};
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

function onUnauthorized(status) {
  if (status === 401) {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/app/login?next=${next}&error=expired`);
  }
}

export async function api(path, { method = "GET", json, body, signal, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  if (UNSAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const res = await fetch(path, { method, headers, body, signal, credentials: "same-origin" });
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    onUnauthorized(res.status);
    throw new ApiError(res.status, data);
  }
  return data;
}

/** Every item of a paginated list (follows next_cursor; at most `max` items). */
export async function listAll(path, max = 500) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** POST multipart `form` with upload progress (fetch has no upload progress; XHR does). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total, "upload");
    });
    xhr.upload.addEventListener("load", () => onProgress(1, "analysing"));
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = { message: xhr.responseText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        onUnauthorized(xhr.status);
        reject(new ApiError(xhr.status, data));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { message: "network error" })));
    xhr.send(form);
  });
}
