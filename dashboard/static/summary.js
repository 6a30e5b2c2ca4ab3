/* batch-debug dashboard: the job summary card and its request timeline (waterfall).
 *
 * renderSummary(summary, jobFile) fills the tiles, the job's life (an error that
 * ended it, items never started), status codes, server facts, failure patterns
 * and findings (findings.js), then draws one row per HTTP attempt
 * from jobFile.requests: a bar at start_offset_ms, duration_ms long, coloured
 * by status (2xx green, 4xx amber, 5xx and network errors red), retries
 * outlined and tagged, a dot for a new connection, a ring for a reused one.
 */
import {
  $, el, STATUS_MEANINGS, formatDuration, formatMs, plural, rateClass, shortPath, statusClass,
} from "./core.js";
import { renderFindings } from "./findings.js";

/** Requests drawn on the timeline (the page asks for this many: GET /job/<id>/requests?limit=). */
export const TIMELINE_ROWS = 1500;

function setTile(id, value, sub, cls) {
  $(id).textContent = value;
  $(`${id}-sub`).textContent = sub;
  $(id).parentElement.className = `tile ${cls || ""}`;
}

/** The success tile: the item rate and the request rate, each named and with its own counts (the API's figures). */
function renderRates(s) {
  const requests = s.successful_requests + s.failed_requests;
  const itemRate = s.item_success_rate_percent ?? (s.items_total ? Math.round((s.items_succeeded * 1000) / s.items_total) / 10 : null);
  const requestRate = s.success_rate_percent;
  const pct = (rate) => (rate === null || rate === undefined ? "–" : `${rate.toFixed(1)}%`);
  $("rate-items-value").textContent = pct(itemRate);
  $("rate-items-sub").textContent = `— ${s.items_succeeded} of ${plural(s.items_total, "item")} succeeded`;
  $("rate-requests-value").textContent = pct(requestRate);
  $("rate-requests-sub").textContent = `— ${s.successful_requests} of ${plural(requests, "request")} succeeded` +
    (s.other_requests ? ` (${s.other_requests} other not counted)` : "");
  $("rate-items").className = `rate-line ${rateClass(itemRate)}`;
  $("rate-requests").className = `rate-line ${rateClass(requestRate)}`;
}

export function renderSummary(s, log) {
  $("summary-job").textContent = s.job_id;
  const badge = $("summary-complete");
  badge.textContent = log.complete === false ? "partial" : "complete";
  badge.className = `badge ${log.complete === false ? "badge-warn" : "badge-on"}`;
  renderRates(s);
  setTile("tile-total", String(s.total_requests), `${s.successful_requests} ok · ${s.retries || 0} retries`);
  setTile("tile-failed", String(s.failed_requests), `${s.items_failed} items failed`, s.failed_requests ? "poor" : "good");
  const lat = s.latency_ms || {};
  setTile("tile-duration", formatDuration(s.duration_seconds),
    lat.p50_ms === null || lat.p50_ms === undefined ? "no latency data" : `p50 ${formatMs(lat.p50_ms)} · p95 ${formatMs(lat.p95_ms)}`);

  const breakdown = Object.entries(s.status_code_breakdown || {}).sort((a, b) => b[1] - a[1]);
  $("status-body").replaceChildren(...(breakdown.length ? breakdown.map(([key, count]) => {
    const code = /^\d+$/.test(key) ? Number(key) : null;
    return el("tr", { "data-testid": "status-row" },
      el("td", {}, el("span", { class: `code ${statusClass(code, code === null ? key : null)}` }, key)),
      el("td", { class: "muted" }, code === null ? "network error" : STATUS_MEANINGS[code] || ""),
      el("td", { class: "num" }, String(count)));
  }) : [el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No requests recorded."))]));

  renderEnvironment(log.environment || {}, s);

  const patterns = s.failure_patterns || [];
  $("patterns").replaceChildren(...(patterns.length ? patterns.map((p) =>
    el("div", { class: `pattern ${/server|network/.test(p.pattern) ? "p-bad" : ""}`, "data-testid": "pattern" },
      el("div", { class: "title" }, el("span", {}, p.description),
        el("span", { class: "muted small" }, `${plural(p.count, "attempt")} · ${plural(p.items_affected, "item")} · ${p.recovered_items || 0} recovered`)),
      p.example_item_ids && p.example_item_ids.length ? el("div", { class: "ids" }, `e.g. ${p.example_item_ids.join(", ")}`) : null))
    : [el("p", { class: "empty" }, "No failed requests.")]));

  $("recommendations").replaceChildren(...renderFindings(s.findings, s.recommendations));
  renderLife(s, log);
  renderTimeline(log.requests || [], log.requests_total);
}

/** The job's own life: an exception that ended it, items that never started or never finished. */
function renderLife(s, log) {
  const box = $("summary-life");
  const error = s.job_error || log.job_error;
  const notes = [];
  if (error) notes.push(`The job stopped with ${error.type || "an error"}: ${error.message || ""}`);
  else if (log.complete === false) notes.push("The process stopped before the job ended; this file holds what was recorded until then.");
  if (s.items_unfinished) notes.push(`${plural(s.items_unfinished, "item")} in progress when it stopped.`);
  if (s.items_not_started) notes.push(`${plural(s.items_not_started, "declared item")} never started (not counted as failed).`);
  box.replaceChildren(...notes.map((text) => el("p", { "data-testid": "life-note" }, text)));
  box.classList.toggle("hidden", notes.length === 0);
}

function renderEnvironment(env, s) {
  const info = env.server_info || {};
  const lat = env.latency_ms || {};
  const conn = env.connections || s.connections || {};
  const facts = [
    ["Server", info.ServerName ? `${info.ServerName} (${info.ProductName || "?"} ${info.Version || ""})` : env.server_info_error || "unknown"],
    ["OS", info.OperatingSystem || "–"],
    ["Server header", env.server_header || "–"],
    ["HTTP", Object.keys(env.http_versions || {}).join(", ") || "–"],
    ["Latency", lat.p50_ms === null || lat.p50_ms === undefined ? "–" :
      `p50 ${formatMs(lat.p50_ms)} · p95 ${formatMs(lat.p95_ms)} · max ${formatMs(lat.max_ms)}`],
    ["Connections", conn.new === undefined ? "–" : `${conn.new} new · ${conn.reused} reused` +
      (conn.new_share_percent === null || conn.new_share_percent === undefined ? "" : ` (${conn.new_share_percent}% new)`)],
    ["Sessions", s.sessions_created === null || s.sessions_created === undefined ? "–" : String(s.sessions_created)],
  ];
  $("env-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function niceStep(total, ticks) {
  const raw = total / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

function renderTimeline(requests, total) {
  const box = $("timeline");
  if (!requests.length) {
    box.replaceChildren(el("p", { class: "tl-note" }, "No requests in this job."));
    $("timeline-caption").textContent = "";
    return;
  }
  const rows = requests.slice(0, TIMELINE_ROWS);
  const end = Math.max(...rows.map((r) => (r.start_offset_ms || 0) + (r.duration_ms || 0)), 1);
  // About one tick label per 80 px of the bar area, so labels never overlap on a narrow screen.
  // (The card may still be hidden here, so the page's width stands in for the timeline's.)
  const wide = Math.min(document.documentElement.clientWidth, 1240) - 90;
  const track = window.matchMedia("(max-width: 640px)").matches ? wide : wide - 300;
  const step = niceStep(end, Math.max(2, Math.min(6, Math.floor(track / 80))));
  const pos = (ms) => `${Math.min(100, (ms / end) * 100).toFixed(3)}%`;
  const ticks = [];
  const tick = (t) => (step >= 1000 ? `${+(t / 1000).toFixed(2)} s` : `${Math.round(t)} ms`);
  // A label too near the right edge would be cut off (about 60 px of it).
  const last = end * Math.max(0.5, 1 - 60 / Math.max(track, 1));
  for (let t = 0; t <= last; t += step) ticks.push(el("span", { class: "tl-tick", style: { left: pos(t) } }, tick(t)));
  const retries = requests.filter((r) => (r.attempt || 1) > 1).length;
  const fresh = requests.filter((r) => r.connection_reused === false).length;
  // The page gets the job's first requests only (a page of the file): say so when there are more.
  const all = Math.max(total || 0, requests.length);
  const scope = all > rows.length ? ` · the first ${rows.length.toLocaleString()} of ${all.toLocaleString()} shown` : "";
  $("timeline-caption").textContent = `${plural(rows.length, "request")} over ${formatMs(end)} · ${plural(retries, "retry", "retries")} · ${plural(fresh, "new connection")}` +
    scope;
  let lastItem = null, alt = false;
  const items = rows.map((r, i) => {
    if (r.item_id !== lastItem) { alt = !alt; lastItem = r.item_id; }
    const cls = statusClass(r.status_code, r.error_type);
    const outcome = r.status_code === null || r.status_code === undefined ? r.error_type || "network error" : `HTTP ${r.status_code}`;
    const tip = [`${r.method} ${r.url}`, `${outcome} in ${formatMs(r.duration_ms)} (starts at ${formatMs(r.start_offset_ms)})`,
      `item ${r.item_id || "–"} · attempt ${r.attempt || 1}`,
      r.connection_reused === false ? "new connection" : r.connection_reused ? "reused connection" : "connection reuse unknown",
      r.error_body ? `body: ${r.error_body.slice(0, 300)}` : "",
      // No answer: the client's own words (a certificate refused, a name not resolved).
      r.error_message ? `error: ${r.error_message.slice(0, 300)}` : "",
      // A success whose body was no poster (a sign-in page, a document, nothing): what it held.
      r.body_kind ? `answer: ${oddBody(r)}${r.body_text ? ` \u201c${r.body_text.slice(0, 200)}\u201d` : ""}` : ""]
      .filter(Boolean).join("\n");
    const connCls = r.connection_reused === false ? "new" : r.connection_reused ? "reused" : null;
    return el("div", { class: `tl-row${alt ? " alt" : ""}`, title: tip, "data-testid": "timeline-row",
                       "data-status": r.status_code === null ? "" : String(r.status_code),
                       "data-attempt": String(r.attempt || 1), "data-conn": connCls || "unknown" },
      el("div", { class: "tl-label" },
        el("span", { class: "m" }, r.method),
        el("span", { class: "p" }, shortPath(r.url)),
        (r.attempt || 1) > 1 ? el("span", { class: "tag", "data-testid": "retry-tag" }, `retry ${r.attempt - 1}`) : null,
        r.body_kind ? el("span", { class: "tag odd", "data-testid": "body-tag" }, oddBody(r)) : null),
      el("div", { class: "tl-track" },
        connCls ? el("span", { class: `tl-conn ${connCls}`, style: { left: pos(r.start_offset_ms || 0) } }) : null,
        el("span", { class: `tl-bar ${cls}${(r.attempt || 1) > 1 ? " retry" : ""}`,
                     style: { left: pos(r.start_offset_ms || 0), width: pos(r.duration_ms || 0) } })));
  });
  box.replaceChildren(el("div", { class: "tl-axis" }, el("div", { class: "tl-label" }, "Request"),
    el("div", { class: "tl-scale" }, ticks)), ...items);
}

/** What a 2xx answer held instead of what its route serves: "HTML page", "JSON", "empty body" (``body_kind``). */
function oddBody(r) {
  return { html: "HTML page", json: "JSON", xml: "XML", text: "text", empty: "empty body" }[r.body_kind] || String(r.body_kind);
}
