/* batch-debug dashboard page: the Custom ID Test card.
 *
 * Runs POST /test-item for one item (optionally another server and key, which
 * the server accepts only with a token) and shows every attempt and the
 * diagnosis. Everything from the answer is inserted as text.
 */
import { $, api, el, formatBytes, formatMs, plural, shortPath, statusClass } from "./core.js";
import { renderFindings } from "./findings.js";

/** Wire the form and say which server the test will call. */
export function initCustomIdTest() {
  $("test-form").addEventListener("submit", runTest);
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
      el("thead", {}, el("tr", {}, ["#", "Request", "Status", "Time", "Connection", "Response body"].map((h) => el("th", {}, h)))),
      el("tbody", {}, result.attempts.map((a) => el("tr", { "data-testid": "test-attempt" },
        el("td", {}, String(a.attempt)),
        el("td", { class: "mono" }, `${a.method} ${shortPath(a.url)}`),
        el("td", {}, el("span", { class: `code ${statusClass(a.status_code, a.error_type)}` }, a.status_code === null ? a.error_type || "error" : String(a.status_code))),
        el("td", {}, formatMs(a.duration_ms)),
        el("td", { class: "muted" }, a.connection_reused === false ? "new" : a.connection_reused ? "reused" : "–"),
        el("td", {}, el("span", { class: "body-snippet", title: a.error_body || "" }, a.error_body || ""))))))),
    el("h3", {}, "Diagnosis"),
    el("ol", { class: "findings", "data-testid": "test-diagnosis" }, renderFindings(result.findings, result.diagnosis)));
  box.classList.remove("hidden");
}
