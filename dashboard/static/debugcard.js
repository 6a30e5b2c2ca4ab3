/* batch-debug dashboard page: the Debug mode card (on/off, the countdown, where it was switched).
 *
 * renderDebug(status) shows a /status answer and restarts the countdown from
 * its remaining_seconds; tickCountdown() runs every second. When /status does
 * not answer, renderStale(err) says so ("Dashboard not answering since
 * HH:MM:SS") and the card shows the state as unknown, not counted down, until
 * the next answer.
 */
import { $, clock, formatTime, setConnection } from "./core.js";

const card = {
  deadline: null,        // performance.now() at which debug expires, or null
  enabled: false,
  staleSince: null,      // Date of the first unanswered /status since the last answer, or null
  unanswered: 0,         // polls unanswered since the last answer (the card's data-unanswered)
};

/** Whether the last answer said debug is on. */
export function debugEnabled() { return card.enabled; }

export function renderDebug(status) {
  card.staleSince = null;
  card.unanswered = 0;
  $("debug-card").dataset.stale = "false";
  $("debug-card").dataset.unanswered = "0";
  card.enabled = status.debug_enabled;
  const badge = $("debug-badge");
  badge.textContent = status.debug_enabled ? "On" : "Off";
  badge.className = `badge ${status.debug_enabled ? "badge-on" : "badge-off"}`;
  badge.dataset.enabled = String(status.debug_enabled);
  $("debug-dir").textContent = status.debug_dir;
  $("disable-button").disabled = !status.debug_enabled || status.source === "env";
  if (status.debug_enabled && status.remaining_seconds !== null) {
    card.deadline = performance.now() + status.remaining_seconds * 1000;
    $("debug-detail").textContent = `Recording jobs until ${formatTime(status.expires_at)} (switched on from the ${status.source === "api" ? "dashboard or CLI" : status.source}).`;
  } else if (status.debug_enabled) {
    card.deadline = null;
    $("debug-detail").textContent = "On for the life of the process (APHRODITE_BATCH_DEBUG is set).";
  } else {
    card.deadline = null;
    $("debug-detail").textContent = "Debug is off: jobs run without recording (almost no overhead).";
  }
  tickCountdown();
}

/** /status did not answer: what the card showed may no longer be true, so it stops claiming it. */
export function renderStale(err) {
  if (card.staleSince === null) card.staleSince = new Date();
  const since = formatTime(card.staleSince.toISOString()).slice(-8);
  const what = err.status === 0 ? "not answering" : `answering with errors (${err.message})`;
  setConnection("error", `Not answering since ${since}`);
  $("debug-card").dataset.stale = "true";
  $("debug-card").dataset.unanswered = String(++card.unanswered);
  const badge = $("debug-badge");
  badge.textContent = "Unknown";
  badge.className = "badge badge-warn";
  badge.dataset.enabled = "unknown";
  $("debug-detail").textContent = `Dashboard ${what} since ${since}: the debug state is unknown until it answers again.`;
  $("disable-button").disabled = true;
  $("active-updated").textContent = `not updated since ${since}`;
  tickCountdown();
}

export function tickCountdown() {
  const node = $("debug-remaining");
  if (card.staleSince !== null) node.textContent = "Unknown";
  else if (!card.enabled) node.textContent = "Off";
  else if (card.deadline === null) node.textContent = "Always on";
  else {
    const left = (card.deadline - performance.now()) / 1000;
    node.textContent = left > 0 ? `${clock(left)} left` : "Expiring…";
  }
}
