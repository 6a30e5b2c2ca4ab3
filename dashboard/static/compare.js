/* batch-debug dashboard: on a job's summary, "Compare with..." and "What the failures have in common".
 *
 * Compare: GET /compare?head=<job>[&base=<file>]. The select lists the other
 * job files (GET /jobs); its first choice lets the server pick the base (the
 * previous run of the job id, else of the id without its run suffix, else the
 * newest clean job) and the answer says which and why.
 * Correlate: GET /job/<id>/correlate. The verdict, then for each dimension in
 * which a value stands out a small bar chart: each value's share among failed
 * attempts next to its share among successful ones.
 * Every text from a job file is set as text (el()), never as markup.
 */
import { $, api, el, plural, reportError } from "./core.js";

const MAX_FLIPPED_ROWS = 20;
const MAX_BARS = 5;
const MAX_DIMENSIONS = 3;
let jobOf = () => null;

/** Wire the controls; `currentJob()` names the job on the summary card. */
export function initCompare(currentJob) {
  jobOf = currentJob;
  $("compare-run").addEventListener("click", () => runCompare().catch(reportError));
}

/** Jobs with more requests than this correlate on a click: the server reads every request of the file. */
export const CORRELATE_ON_CLICK_ABOVE = 50000;

/** A new job on the summary card: the base choices, an empty comparison, its correlation. */
export async function showCompare(jobId, summary) {
  $("compare-result").replaceChildren();
  $("compare-result").classList.add("hidden");
  const select = $("compare-base");
  select.replaceChildren(el("option", { value: "" }, "the previous run (chosen for you)"));
  $("correlate-dimensions").replaceChildren();
  const total = summary.total_requests || 0;
  let correlation = null;
  if (!summary.failed_requests) {
    // Nothing failed: the answer is known without reading the file (the API says the same words).
    $("correlate-verdict").textContent = "No attempt failed: nothing to correlate.";
  } else if (total > CORRELATE_ON_CLICK_ABOVE) {
    $("correlate-verdict").replaceChildren(
      `This job made ${total.toLocaleString()} requests; the correlation reads every one of them. `,
      el("button", { type: "button", class: "btn small", "data-testid": "correlate-run",
                     onclick: () => loadCorrelation(jobId).catch(reportError) }, "Correlate"));
  } else {
    correlation = api(`/job/${encodeURIComponent(jobId)}/correlate`);
  }
  const jobs = await api("/jobs?per_page=100");
  let headSkipped = false;  // the newest file of the job is the one on the card
  for (const job of jobs.jobs || []) {
    if (!headSkipped && job.job_id === jobId) { headSkipped = true; continue; }
    select.append(el("option", { value: job.filename }, `${job.job_id} · ${job.created_at.replace("T", " ").slice(0, 19)}`));
  }
  if (correlation) renderCorrelation(await correlation);
}

async function loadCorrelation(jobId) {
  $("correlate-verdict").textContent = "Reading every request…";
  renderCorrelation(await api(`/job/${encodeURIComponent(jobId)}/correlate`));
}

async function runCompare() {
  const head = jobOf();
  if (!head) return;
  const base = $("compare-base").value;
  const query = `head=${encodeURIComponent(head)}${base ? `&base=${encodeURIComponent(base)}` : ""}`;
  const box = $("compare-result");
  box.classList.remove("hidden");
  try {
    renderComparison(await api(`/compare?${query}`));
  } catch (err) {
    box.replaceChildren(el("p", { class: "notice error", "data-testid": "compare-error" }, err.message));
  }
}

function rateCell(rate) {
  const fmt = (v) => (v === null || v === undefined ? "–" : `${v}%`);
  const change = rate.change_points === null || rate.change_points === undefined ? "" : ` (${rate.change_points > 0 ? "+" : ""}${rate.change_points} points)`;
  return `${fmt(rate.base_percent)} → ${fmt(rate.head_percent)}${change}`;
}

function renderComparison(c) {
  const flipped = c.flipped;
  const rows = flipped.ok_to_failed.slice(0, MAX_FLIPPED_ROWS).map((r) =>
    el("tr", { "data-testid": "flipped-row", "data-item-id": r.item_id },
      el("td", { class: "mono" }, r.item_id), el("td", {}, "ok → failed"),
      el("td", { class: "num" }, String(r.base_status ?? "–")), el("td", { class: "num" }, String(r.head_status ?? "–"))));
  rows.push(...flipped.failed_to_ok.slice(0, MAX_FLIPPED_ROWS).map((r) =>
    el("tr", { "data-testid": "flipped-row", "data-item-id": r.item_id },
      el("td", { class: "mono" }, r.item_id), el("td", {}, "failed → ok"),
      el("td", { class: "num" }, String(r.base_status ?? "–")), el("td", { class: "num" }, String(r.head_status ?? "–")))));
  const more = flipped.ok_to_failed_count + flipped.failed_to_ok_count - rows.length;
  // replaceChildren() would print a null as the text "null": absent parts are filtered out.
  $("compare-result").replaceChildren(...[
    el("p", { class: "muted small", "data-testid": "compare-base-name" },
      `Compared with ${c.base.file} (${c.base_chosen_because}).`),
    el("ul", { class: "changes", "data-testid": "compare-changes" },
      c.changes.map((text) => el("li", { "data-testid": "compare-change" }, text))),
    el("dl", { class: "facts" },
      el("dt", {}, "Items ok"), el("dd", { "data-testid": "compare-items" }, rateCell(c.items)),
      el("dt", {}, "Requests ok"), el("dd", { "data-testid": "compare-requests" }, rateCell(c.requests)),
      el("dt", {}, "New connections"), el("dd", {}, `${c.connections.base_new_share_percent ?? "–"}% → ${c.connections.head_new_share_percent ?? "–"}%`)),
    rows.length ? el("table", { class: "data compact", "data-testid": "flipped-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Item"), el("th", {}, "Flipped"), el("th", { class: "num" }, "Base status"),
        el("th", { class: "num" }, "Now"))),
      el("tbody", {}, rows)) : null,
    more > 0 ? el("p", { class: "muted small" }, `… and ${plural(more, "more item")} (the API lists them all).`) : null,
  ].filter(Boolean));
}

function bar(cls, share, label) {
  return el("div", { class: "share-row" },
    el("span", { class: "share-label" }, label),
    el("span", { class: "share-track" }, el("span", { class: `share-bar ${cls}`, style: { width: `${(share * 100).toFixed(1)}%` } })),
    el("span", { class: "share-num" }, `${Math.round(share * 100)}%`));
}

function renderCorrelation(found) {
  $("correlate-verdict").textContent = found.verdict;
  const shown = found.dimensions.filter((d) => d.stands_out).slice(0, MAX_DIMENSIONS);
  $("correlate-dimensions").replaceChildren(...shown.map((d) =>
    el("div", { class: "dimension", "data-testid": "correlate-dimension", "data-dimension": d.dimension },
      el("h4", {}, d.label),
      d.values.slice(0, MAX_BARS).map((v) =>
        el("div", { class: `share${v.stands_out ? " stands-out" : ""}`, "data-testid": "correlate-value",
                    "data-value": v.value, "data-failed-share": String(v.failed_share) },
          el("div", { class: "share-value mono", title: v.value }, v.value),
          bar("failed", v.failed_share, "failed"),
          bar("succeeded", v.succeeded_share, "succeeded"))))));
}
