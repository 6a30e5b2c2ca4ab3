/* batch-debug dashboard: findings (what went wrong, why, and the evidence) as cards.
 *
 * renderFindings(findings, recommendations) returns the nodes for a list of
 * findings ({id, cause, evidence, confidence, action}); with no findings (a
 * clean job, or a file written before findings existed) the plain
 * recommendation lines are shown instead. Everything is inserted as text.
 * Evidence that carries the server's own words (``server_said``: a list of
 * messages, with ``server_said_attempts`` counting each; also any key ending in
 * ``said``, ``quote`` or ``body``) is shown quoted under the cause, whole and
 * wrapped, not folded away in the evidence list.
 */
import { el, plural } from "./core.js";

const CONFIDENCE = { high: "badge-bad", medium: "badge-warn", low: "badge-off" };
const HIDDEN_EVIDENCE = new Set(["example_item_ids", "status_codes", "servers", "window_ms"]);
const QUOTE_KEY = /(^|_)(said|quote|quotes|quoted|words|body|bodies|excerpt|excerpts)(_attempts)?$/;

/** The server's words a finding quotes: [text, attempts or null], whatever shape the evidence gives them. */
function quotes(evidence) {
  const found = new Map();
  for (const [key, value] of Object.entries(evidence || {})) {
    if (!QUOTE_KEY.test(key) || key.endsWith("_attempts")) continue;
    const counts = evidence[`${key}_attempts`];
    (Array.isArray(value) ? value : [value]).forEach((text, i) => {
      if (text && typeof text === "object") text = text.text ?? text.body ?? text.quote;
      if (typeof text === "string" && text.trim() && !found.has(text)) {
        found.set(text, Array.isArray(counts) && Number.isInteger(counts[i]) ? counts[i] : null);
      }
    });
  }
  return [...found];
}

function formatValue(value) {
  if (value === null || value === undefined) return "–";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "–";
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join(", ") || "–";
  }
  return String(value);
}

function evidenceRows(evidence) {
  const ev = evidence || {};
  const rows = [];
  if (ev.window_ms) rows.push(["when", `${Math.round(ev.window_ms.start)} ms – ${Math.round(ev.window_ms.end)} ms after the job began`]);
  if (ev.attempts) rows.push(["attempts", String(ev.attempts)]);
  if (ev.status_codes && Object.keys(ev.status_codes).length) rows.push(["outcomes", formatValue(ev.status_codes)]);
  if (ev.servers && Object.keys(ev.servers).length) rows.push(["answered by", formatValue(ev.servers)]);
  if (ev.example_item_ids && ev.example_item_ids.length) rows.push(["items", `${ev.items} (e.g. ${ev.example_item_ids.join(", ")})`]);
  for (const [key, value] of Object.entries(ev)) {
    if (HIDDEN_EVIDENCE.has(key) || QUOTE_KEY.test(key) || key === "attempts" || key === "items" || value === null || value === undefined) continue;
    rows.push([key.replaceAll("_", " "), formatValue(value)]);
  }
  return rows;
}

export function findingCard(f) {
  const rows = evidenceRows(f.evidence);
  return el("li", { class: "finding", "data-testid": "finding", "data-finding-id": f.id, "data-confidence": f.confidence },
    el("div", { class: "finding-head" },
      el("span", { class: "mono finding-id" }, f.id),
      el("span", { class: `badge ${CONFIDENCE[f.confidence] || ""}`, title: "confidence" }, `${f.confidence} confidence`)),
    el("p", { class: "finding-cause" }, f.cause),
    quotes(f.evidence).map(([text, attempts]) => el("blockquote", { class: "server-words", "data-testid": "finding-quote" },
      el("span", { class: "muted small" }, attempts ? `the server said (${plural(attempts, "attempt")}): ` : "the server said: "),
      el("q", {}, text))),
    el("p", { class: "finding-action" }, el("strong", {}, "What to do: "), f.action),
    rows.length ? el("details", { class: "finding-evidence" },
      el("summary", {}, "Evidence"),
      el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))) : null);
}

export function renderFindings(findings, recommendations) {
  if (findings && findings.length) return findings.map(findingCard);
  return (recommendations || []).map((text) => el("li", { class: "finding plain", "data-testid": "recommendation" }, text));
}
