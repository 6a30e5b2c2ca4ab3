/* batch-debug dashboard: the summary's "Copy failed ids" button, the hand-over to a rerun.
 *
 * Reads GET /job/<id>/failed-ids (the same rule as the summary's items_failed)
 * and puts the ids on the clipboard, one a line. Where the clipboard cannot be
 * written (no navigator.clipboard outside a secure context, or the browser
 * refuses), the ids are shown selected in a text box to copy by hand.
 * The button is hidden for a job without failed items.
 */
import { $, api, plural, reportError, toast } from "./core.js";

let jobOf = () => null;
let pathOf = (jobId, what) => `/job/${encodeURIComponent(jobId)}/${what}`;

/** Wire the button; `currentJob()` names the job on the summary card, `jobPath(id, what)` its API path. */
export function initCopyFailedIds(currentJob, jobPath) {
  jobOf = currentJob;
  if (jobPath) pathOf = jobPath;
  $("summary-copy-failed").addEventListener("click", () => copyFailedIds().catch(reportError));
}

/** Show the button only when the summary counts failed items (and drop ids shown for another job). */
export function showCopyFailedIds(summary) {
  const failed = summary.items_failed || 0;
  const button = $("summary-copy-failed");
  button.classList.toggle("hidden", failed === 0);
  button.textContent = `Copy failed ids (${failed})`;
  $("failed-ids-box").classList.add("hidden");
  $("failed-ids-text").value = "";
}

async function copyFailedIds() {
  const jobId = jobOf();
  if (!jobId) return;
  const answer = await api(pathOf(jobId, "failed-ids"));
  const ids = answer.failed_item_ids || [];
  const text = ids.join("\n");
  const unfinished = (answer.unfinished_item_ids || []).length;
  const extra = unfinished ? ` (${plural(unfinished, "unfinished item")} not included)` : "";
  document.body.dataset.lastCopied = text;
  if (navigator.clipboard && navigator.clipboard.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      $("failed-ids-box").classList.add("hidden");
      toast(`Copied ${plural(ids.length, "failed id")}, one a line${extra}.`);
      return;
    } catch (_) { /* refused (no focus, no permission): fall back to the text box */ }
  }
  const box = $("failed-ids-text");
  box.value = text;
  box.rows = Math.min(10, Math.max(2, ids.length));
  $("failed-ids-box").classList.remove("hidden");
  box.focus();
  box.select();
  toast(`The clipboard is not available here: ${plural(ids.length, "failed id")} selected below, copy them${extra}.`);
}
