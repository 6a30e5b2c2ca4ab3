/* batch-debug dashboard page: the Custom ID Test card.
 *
 * Runs POST /test-item for one item (optionally another server and key, which
 * the server accepts only with a token) and shows every attempt and the
 * diagnosis. Everything from the answer is inserted as text; a response body
 * (the server's own words, such as a 500's exception) is shown whole, wrapped,
 * on its own row under its attempt. The item-id field says its format when
 * refused, not the browser's bare "Please match the requested format.".
 */
import { $, api, el, formatBytes, formatMs, plural, shortPath, statusClass } from "./core.js";
import { renderFindings } from "./findings.js";

/** Wire the form and say which server the test will call. */
export function initCustomIdTest() {
  $("test-form").addEventListener("submit", runTest);
  const field = $("test-item-id");
  const hint = field.dataset.expected;
  field.addEventListener("invalid", () => {
    if (field.validity.patternMismatch || field.validity.tooLong) field.setCustomValidity(`An item id is ${hint}.`);
  });
  field.addEventListener("input", () => field.setCustomValidity(""));
  $("test-config-note").textContent = document.body.dataset.jellyfinConfigured === "true"
    ? "Uses the configured Jellyfin server"
    : document.body.dataset.tokenRequired === "true" ? "No Jellyfin server configured: enter server and API key"
    : "No Jellyfin server configured: set JELLYFIN_URL (without a token the test calls only that server)";
}

async function runTest(event) {
  event.preventDefault();
  const button = $("test-run");
  const payload = { item_id: $("test-item-id").value.trim() };
  if ($("test-server").value.trim()) payload.server = $("test-server").value.trim();
  if ($("test-api-key").value) payload.api_key = $("test-api-key").value;
  const box = $("test-result");
  button.disabled = true;
  button.textContent = "Testing…";
  try {
    renderTest(await api("/test-item", { method: "POST", json: payload }));
  } catch (err) {
    box.replaceChildren(el("div", { class: "notice error", "data-testid": "test-error" }, err.message));
    box.dataset.ok = "error";
    box.classList.remove("hidden");
  } finally {
    button.disabled = false;
    button.textContent = "Run test";
  }
}

/** One attempt's row, and under it the body the server answered with, whole. */
function attemptRows(a) {
  const row = el("tr", { "data-testid": "test-attempt" },
    el("td", {}, String(a.attempt)),
    el("td", { class: "mono" }, `${a.method} ${shortPath(a.url)}`),
    el("td", {}, el("span", { class: `code ${statusClass(a.status_code, a.error_type)}` }, a.status_code === null ? a.error_type || "error" : String(a.status_code))),
    el("td", {}, formatMs(a.duration_ms)),
    el("td", { class: "muted" }, a.connection_reused === false ? "new" : a.connection_reused ? "reused" : "–"));
  if (!a.error_body) return [row];
  return [row, el("tr", { class: "body-row" }, el("td", { colspan: "5" },
    el("div", { class: "muted small" }, `Response body${a.error_body_truncated ? " (cut by the recorder)" : ""}:`),
    el("pre", { class: "body-text", "data-testid": "test-body" }, a.error_body)))];
}

function renderTest(result) {
  const box = $("test-result");
  box.dataset.ok = String(result.ok);
  const verdict = result.ok
    ? `Poster downloaded (${formatBytes(result.size_bytes)}) in ${plural(result.requests, "request")}.`
    : `Failed${result.status_code ? ` with HTTP ${result.status_code}` : ""} after ${plural(result.requests, "request")}: ${result.error || "unknown error"}`;
  box.replaceChildren(
    el("div", { class: "verdict" },
      el("span", { class: `badge ${result.ok ? "badge-on" : "badge-bad"}`, "data-testid": "test-verdict" }, result.ok ? "OK" : "Failed"),
      el("span", {}, verdict)),
    el("div", { class: "table-wrap" }, el("table", { class: "data compact" },
      el("thead", {}, el("tr", {}, ["#", "Request", "Status", "Time", "Connection"].map((h) => el("th", {}, h)))),
      el("tbody", {}, result.attempts.flatMap(attemptRows)))),
    el("h3", {}, "Diagnosis"),
    el("ol", { class: "findings", "data-testid": "test-diagnosis" }, renderFindings(result.findings, result.diagnosis)));
  box.classList.remove("hidden");
}
