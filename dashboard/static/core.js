/* batch-debug dashboard, shared pieces: API access with the token, DOM building,
 * formatting, notices. Plain ES module, no framework, no external assets.
 * All text from job files is inserted with textContent (error bodies come from servers).
 */

export const API = document.body.dataset.api;
export const TOKEN_KEY = "batchDebugToken";
/** Set by the page: what to do when the API answers 401. */
export const hooks = { unauthorized: (_message) => {} };
export const STATUS_MEANINGS = {
  200: "OK", 204: "No content", 301: "Moved", 302: "Found", 304: "Not modified", 400: "Bad request (invalid id)",
  401: "Unauthorized (API key)", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
  429: "Rate limited", 500: "Server error", 502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
};

export const $ = (id) => document.getElementById(id);

/** Build an element: el("td", {class: "num"}, "text", child, ...).
 * `style` is an object of CSSOM properties ({left: "10%"}), set on node.style: the page's CSP allows
 * no inline style attributes, so a string (or any other type) is refused rather than silently dropped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") {
      if (typeof value !== "object") throw new TypeError("el(): style must be an object of CSS properties");
      Object.assign(node.style, value);
    }
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/* ---------- API access ---------- */

export async function api(path, { method = "GET", json, raw = false } = {}) {
  const headers = new Headers({ Accept: "application/json" });
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  let body;
  if (json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(API + path, { method, headers, body, cache: "no-store" });
  } catch (err) {
    setConnection("error", "Dashboard unreachable");
    throw new ApiError(0, "The dashboard server did not answer.");
  }
  if (res.status === 401) {
    hooks.unauthorized(token ? "The token was refused. Enter it again." : "");
    throw new ApiError(401, "A valid API token is required.");
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error.message || message; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return raw ? res : res.json();
}

export function filenameFrom(disposition) {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition || "");
  return match ? decodeURIComponent(match[1]) : null;
}

/** Fetch with the token and save the answer as a file (a plain link cannot send the token). */
export async function download(path, fallbackName) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const name = filenameFrom(res.headers.get("Content-Disposition")) || fallbackName;
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  document.body.dataset.lastDownload = name;
  document.body.dataset.lastDownloadBytes = String(blob.size);
  toast(`Downloaded ${name} (${formatBytes(blob.size)})`);
}

/* ---------- formatting ---------- */

export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  const pad = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatAgo(iso) {
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function statusClass(code, errorType) {
  if (code === null || code === undefined) return errorType || code === null ? "s-net" : "s-3xx";
  if (code >= 500) return "s-5xx";
  if (code >= 400) return "s-4xx";
  if (code >= 300) return "s-3xx";
  return "s-2xx";
}

export function rateClass(rate) {
  if (rate === null || rate === undefined) return "";
  return rate >= 95 ? "good" : rate >= 50 ? "fair" : "poor";
}

export function plural(n, word, many) { return `${n} ${n === 1 ? word : many || `${word}s`}`; }

let toastTimer = null;
export function toast(message, isError = false) {
  const box = $("toast");
  box.textContent = message;
  box.classList.toggle("error", isError);
  box.classList.remove("hidden");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.add("hidden"), isError ? 8000 : 4000);
}

export function reportError(err) {
  if (err instanceof ApiError && err.status === 401) return; // the token card says it
  toast(err.message || String(err), true);
}

export function setConnection(kind, text) {
  const node = $("conn-state");
  node.dataset.state = kind;
  node.textContent = text;
}

export function shortPath(url) {
  try {
    const path = new URL(url).pathname;
    return path.replace(/\/Items\/([0-9a-fA-F]{32})/, (_, id) => `/Items/${id.slice(0, 8)}…`);
  } catch (_) { return url; }
}
