// What every part of the console shares: the page's settings, its state, the HTTP helper, money.

const { el, renderComponent, textOf, isStaff, staffBubble } = window.ChatKitWidgets;
const $ = (id) => document.getElementById(id);
const body = document.body.dataset;
const RESOLUTIONS = body.resolutions.split("|");
const SHIPPING = body.shipping.split("|");
const SLA = { warn: 120, late: 300 }; // seconds a customer has been waiting

const state = {
  filter: "all",
  rows: new Map(), // thread id -> list row
  lastSeq: new Map(), // thread id -> last event number applied
  read: new Map(), // thread id -> the customer message count I have read
  query: "", // the search box
  found: new Set(), // thread ids the search found
  resyncing: new Set(),
  selected: null,
  items: new Map(),
  turns: new Map(), // item id -> {engine, fallback, tool_calls} of the turn that produced it
  proposals: new Map(),
  context: null,
  customerConversations: [],
  viewers: new Map(), // thread id -> staff who have it open (presence)
};
const PRESENCE_REFRESH_MS = Number(body.presenceRefreshMs); // the server's, well inside its time to live
// Waiting times are measured on the server's clock: a laptop set a few minutes wrong must not hide a late reply.
const CLOCK_SKEW_MS = Date.parse(body.serverNow) - Date.now() || 0;
const serverNow = () => Date.now() + CLOCK_SKEW_MS;

// --- HTTP ----------------------------------------------------------------------------------
async function api(method, url, payload) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": window.csrfToken() },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message || `HTTP ${response.status}`);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

const money = (cents) => (cents / 100).toFixed(2);

export { $, el, renderComponent, textOf, isStaff, staffBubble, body, RESOLUTIONS, SHIPPING, SLA, state, PRESENCE_REFRESH_MS, CLOCK_SKEW_MS, serverNow, api, money };
