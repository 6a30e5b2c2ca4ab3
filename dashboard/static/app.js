/* batch-debug dashboard page ("Diagnostics > Batch Debug"): wires the cards to the API.
 *
 * Polls /status every 2 s (debug state, countdown, live jobs) and reloads the
 * job list when the set of files changes. With a token required, asks for it
 * once and keeps it in sessionStorage for this tab; until the API accepts it the
 * page is locked (body.locked: only the token card shows, no state it cannot know).
 * When /status stops answering, the debug state is shown as stale, not counted down.
 */
import {
  $, TOKEN_KEY, api, download, el, formatAgo, formatBytes, formatTime, hooks, plural,
  rateClass, reportError, setConnection, toast,
} from "./core.js";
import { debugEnabled, renderDebug, renderStale, tickCountdown } from "./debugcard.js";
import { initCopyFailedIds, showCopyFailedIds } from "./failedids.js";
import { initCompare, showCompare } from "./compare.js";
import { TIMELINE_ROWS, renderSummary } from "./summary.js";
import { initCustomIdTest } from "./testitem.js";

const POLL_MS = 2000;
const state = {
  filesKey: null,        // changes when the set of job files changes
  page: 1,
  pages: 1,
  selectedJob: null,
  polling: false,
  pollTimer: null,
};

/* ---------- token ---------- */

function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  stopPolling();
  document.body.classList.add("locked");
  $("token-card").classList.remove("hidden");
  $("token-error").textContent = message || "";
  setConnection("error", "Locked: token required");
  $("token-input").focus();
}

/** The API answered with the token (or needs none): show the page. */
function unlock() {
  document.body.classList.remove("locked");
  $("token-card").classList.add("hidden");
  $("token-error").textContent = "";
}

hooks.unauthorized = askForToken;

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token-input").value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token-input").value = "";
  $("token-error").textContent = "Checking the token…";  // the card stays until the API accepts it
  startPolling();
});

/* ---------- debug mode and status polling ---------- */

function renderActive(jobs) {
  const list = $("active-list");
  list.replaceChildren(...jobs.map((job) => {
    const total = job.items_total || 0;
    const okDone = Math.max(0, job.items_done - job.items_failed);
    const pct = (n) => (total ? Math.min(100, (n / total) * 100) : 0);
    return el("div", { class: "active-job", "data-testid": "active-job", "data-job-id": job.job_id },
      el("div", { class: "line" },
        el("span", { class: "mono" }, job.job_id),
        el("span", { class: "muted" }, `${job.items_done} / ${total || "?"} items`)),
      el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total),
                  "aria-valuenow": String(job.items_done) },
        el("div", { class: "done", style: { width: `${pct(okDone)}%` } }),
        el("div", { class: "failed", style: { width: `${pct(job.items_failed)}%` } })),
      el("div", { class: "line muted" },
        el("span", {}, `${plural(job.requests, "request")} · ${job.failed_requests} failed · ${job.items_failed} items failed`),
        el("span", {}, `pid ${job.pid} · started ${formatAgo(job.started_at)}`)));
  }));
  $("active-empty").classList.toggle("hidden", jobs.length > 0);
  $("active-empty").textContent = debugEnabled() ? "No job is running with debug on." :
    "Debug is off: running jobs are not recorded, so none are shown.";
  $("active-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refreshStatus() {
  const status = await api("/status");
  unlock();
  setConnection("live", "Live");
  renderDebug(status);
  renderActive(status.active_jobs_with_debug);
  const first = status.recent_debug_files[0];
  const key = `${status.debug_files_total}:${first ? first.filename : ""}`;
  if (key !== state.filesKey) {
    state.filesKey = key;
    await refreshJobs();
  }
  const failing = (status.write_errors || []).filter((report) => report.failing);
  if (failing.length) toast(`Job files could not be written: ${failing[0].last_error}`, true);
}

async function poll() {
  if (!state.polling) return;
  try { await refreshStatus(); } catch (err) { if (err.status !== 401) renderStale(err); }
  if (state.polling) state.pollTimer = setTimeout(poll, POLL_MS);
}

function startPolling() {
  if (state.polling) return;
  state.polling = true;
  state.filesKey = null;
  poll();
}

function stopPolling() {
  state.polling = false;
  clearTimeout(state.pollTimer);
}

$("enable-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const minutes = Number($("duration-input").value);
  try {
    const answer = await api("/enable", { method: "POST", json: { duration_minutes: minutes } });
    toast(`Debug on for ${plural(minutes, "minute")} (until ${formatTime(answer.expires_at)}).`);
    await refreshStatus();
  } catch (err) { reportError(err); }
});

$("disable-button").addEventListener("click", async () => {
  try {
    await api("/disable", { method: "POST" });
    toast("Debug off.");
    await refreshStatus();
  } catch (err) { reportError(err); }
});

/* ---------- recent sessions ---------- */

async function refreshJobs() {
  const list = await api(`/jobs?page=${state.page}&per_page=20`);
  if (list.page > list.pages && list.total) { state.page = list.pages; return refreshJobs(); }
  state.pages = list.pages;
  $("sessions-body").replaceChildren(...list.jobs.map(jobRow));
  $("sessions-empty").classList.toggle("hidden", list.total > 0);
  $("sessions-table").classList.toggle("hidden", list.total === 0);
  $("sessions-count").textContent = list.total ? `(${list.total})` : "";
  $("sessions-pager").classList.toggle("hidden", list.pages <= 1);
  $("page-info").textContent = `Page ${list.page} of ${list.pages}`;
  $("page-prev").disabled = list.page <= 1;
  $("page-next").disabled = list.page >= list.pages;
}

const percent = (rate) => (rate === null || rate === undefined ? "–" : `${rate.toFixed(1)}%`);

/** The list's Success cell: both rates, each named (they differ whenever retries or several requests per item). */
function successCell(job) {
  const itemRate = job.item_success_rate_percent, requestRate = job.success_rate_percent;
  return el("td", { class: "num success-cell", "data-label": "Success", "data-testid": "session-success" },
    el("span", { class: "rate-pair", "data-testid": "session-item-rate" },
      el("span", { class: `rate ${rateClass(itemRate)}` }, percent(itemRate)), " items"),
    el("span", { class: "rate-pair muted", "data-testid": "session-request-rate" },
      el("span", { class: `rate ${rateClass(requestRate)}` }, percent(requestRate)), " requests"));
}

function jobRow(job) {
  const done = job.items_succeeded ?? (job.items_total === null ? null : job.items_total - job.items_failed);
  const items = job.items_total === null ? "–" : `${done}/${job.items_total} ok`;
  const requests = job.total_requests === null ? "–" : `${job.total_requests} (${job.failed_requests} failed)`;
  return el("tr", { "data-testid": "session-row", "data-job-id": job.job_id,
                    class: job.job_id === state.selectedJob ? "selected" : null },
    el("td", { class: "job-cell" }, job.job_id,
      job.error ? el("span", { class: "badge badge-bad incomplete", title: job.error }, "damaged") :
      job.complete === false ? el("span", { class: "badge badge-warn incomplete", title: "The process stopped mid-job" }, "partial") : null),
    el("td", { title: formatTime(job.created_at), "data-label": "Created" }, formatAgo(job.created_at)),
    el("td", { class: "num", "data-label": "Items" }, items),
    el("td", { class: "num", "data-label": "Requests" }, requests),
    successCell(job),
    el("td", { class: "num", "data-label": "Size", "data-testid": "session-size" }, formatBytes(job.size_bytes)),
    el("td", { class: "actions", "data-testid": "session-actions" },
      el("button", { type: "button", class: "btn small", "data-testid": "view-summary",
                     onclick: () => showSummary(job.job_id).catch(reportError) }, "View summary"),
      el("button", { type: "button", class: "btn link small", "data-testid": "download-log",
                     onclick: () => download(jobPath(job.job_id, "full-log"), job.filename).catch(reportError) }, "Full log"),
      el("button", { type: "button", class: "btn link small", "data-testid": "download-trace",
                     onclick: () => download(jobPath(job.job_id, "trace"), `job_${job.job_id}_trace.json`).catch(reportError) }, "OTLP trace")));
}

function jobPath(jobId, what) { return `/job/${encodeURIComponent(jobId)}/${what}`; }

$("page-prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); refreshJobs().catch(reportError); });
$("page-next").addEventListener("click", () => { state.page += 1; refreshJobs().catch(reportError); });

$("cleanup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const days = Number($("cleanup-days").value);
  const what = days === 0 ? "ALL debug files" : `debug files older than ${plural(days, "day")}`;
  if (!window.confirm(`Delete ${what}?`)) return;
  const note = $("cleanup-result");
  try {
    const result = await api(`/cleanup?days=${encodeURIComponent(days)}`, { method: "DELETE" });
    note.textContent = `Deleted ${plural(result.deleted_files, "file")}, freed ${formatBytes(result.total_size_freed_bytes)}.`;
    note.className = "notice";
    if (state.selectedJob && result.deleted_files) closeSummary();
    state.filesKey = null;
    await refreshStatus();
  } catch (err) {
    note.textContent = err.message;
    note.className = "notice error";
  }
});

/* ---------- summary and timeline ---------- */

function closeSummary() {
  state.selectedJob = null;
  $("summary-card").classList.add("hidden");
  document.querySelectorAll("#sessions-body tr.selected").forEach((row) => row.classList.remove("selected"));
}
$("summary-close").addEventListener("click", closeSummary);

async function showSummary(jobId) {
  // The first requests and the head only: a job of a million requests must not be downloaded whole.
  const [summary, log] = await Promise.all([
    api(jobPath(jobId, "summary")),
    api(`${jobPath(jobId, "requests")}?limit=${TIMELINE_ROWS}`),
  ]);
  state.selectedJob = jobId;
  document.querySelectorAll("#sessions-body tr").forEach((row) =>
    row.classList.toggle("selected", row.dataset.jobId === jobId));
  renderSummary(summary, log);
  showCopyFailedIds(summary);
  showCompare(jobId, summary).catch(reportError);
  const card = $("summary-card");
  card.classList.remove("hidden");
  card.dataset.jobId = jobId;
  card.scrollIntoView({ behavior: "smooth", block: "start" });
}

$("summary-download-log").addEventListener("click", () => {
  if (state.selectedJob) download(jobPath(state.selectedJob, "full-log"), `job_${state.selectedJob}.json`).catch(reportError);
});
$("summary-download-trace").addEventListener("click", () => {
  if (state.selectedJob) download(jobPath(state.selectedJob, "trace"), `job_${state.selectedJob}_trace.json`).catch(reportError);
});

/* ---------- start ---------- */

$("openapi-link").addEventListener("click", async (event) => {
  event.preventDefault();
  try {
    const doc = await api("/openapi.json");
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" }));
    window.open(url, "_blank");
  } catch (err) { reportError(err); }
});

initCustomIdTest();
initCopyFailedIds(() => state.selectedJob, jobPath);
initCompare(() => state.selectedJob);
setInterval(tickCountdown, 1000);
if (document.body.dataset.tokenRequired === "true" && !sessionStorage.getItem(TOKEN_KEY)) askForToken("");
else startPolling();
