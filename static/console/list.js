// The conversation list: rows, filters and their counts, waiting times, unread counts.
import { $, SLA, api, body, el, serverNow, state } from "./core.js";
import { noticeChanges } from "./notifications.js";
import { othersViewing, select } from "./transcript.js";

// --- conversation list -----------------------------------------------------------------------
function waitedSeconds(row) {
  return row.waiting_since ? Math.max(0, (serverNow() - Date.parse(row.waiting_since)) / 1000) : null;
}

function waitLabel(seconds) {
  if (seconds === null) return "";
  const m = Math.floor(seconds / 60);
  return m ? `${m}m ${Math.floor(seconds % 60)}s` : `${Math.floor(seconds)}s`;
}

// "2 min ago" in the list; the exact time on hover.
function agoLabel(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (serverNow() - Date.parse(iso)) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function unread(row) {
  return Math.max(0, (row.customer_messages || 0) - (state.read.get(row.thread_id) || 0));
}

// Read up to now: the conversation I have open, while this tab is in front of me.
let reading = null;
function markRead(threadId) {
  const row = state.rows.get(threadId);
  if (!row || document.visibilityState !== "visible" || !unread(row)) return;
  clearTimeout(reading);
  reading = setTimeout(async () => {
    const done = await api("POST", `/console/api/conversations/${encodeURIComponent(threadId)}/read`, {}).catch(() => null);
    if (done) state.read.set(threadId, Math.max(state.read.get(threadId) || 0, done.read_messages));
    renderList();
  }, 300);
}

function matches(row, filter) {
  if (filter === "resolved") return row.status === "resolved";
  if (row.status === "resolved" || row.state === "closed") return false;
  if (filter === "waiting") return row.state === "waiting" || Boolean(row.attention) || Boolean(row.state === "human" && row.waiting_since);
  if (filter === "mine") return row.assigned_to === body.user;
  if (filter === "failed") return row.commits_failed > 0;
  if (filter === "escalated") return row.escalated > 0;
  return true;
}

// Each filter chip says how many it holds, and the tab's title how many messages wait unread for me.
function renderCounts() {
  const rows = [...state.rows.values()];
  for (const button of document.querySelectorAll("[data-filter]")) {
    const filter = button.dataset.filter;
    let count = button.querySelector(".count");
    if (!count) {
      count = el("span", "count");
      button.appendChild(count);
    }
    const people = new Set(rows.filter((row) => matches(row, filter)).map((row) => row.customer.id));
    const n = filter === "resolved" && state.filter !== "resolved" ? null : people.size;
    count.textContent = n === null ? "" : ` ${n}`;
  }
  const total = rows.filter((row) => matches(row, "all")).reduce((sum, row) => sum + unread(row), 0);
  document.title = total ? `(${total}) Returns Console` : "Returns Console";
}

function visible(row) {
  if (state.query) return state.found.has(row.thread_id); // a search shows what it found, whatever the filter
  return matches(row, state.filter);
}

function sortedRows() {
  return [...state.rows.values()].filter(visible).sort((a, b) => {
    const wa = waitedSeconds(a), wb = waitedSeconds(b);
    if (wa !== null || wb !== null) return (wb ?? -1) - (wa ?? -1);
    return (b.last_customer_at || "").localeCompare(a.last_customer_at || "");
  });
}

// One row a person: the customer's most pressing conversation stands for them (the one I have open, if it is
// theirs), with how many more they have; the others are listed in their profile.
function customerRows() {
  const byCustomer = new Map();
  for (const row of sortedRows()) {
    const id = row.customer.id;
    const shown = byCustomer.get(id);
    if (!shown) byCustomer.set(id, { row, others: 0 });
    else {
      shown.others += 1;
      if (row.thread_id === state.selected) shown.row = row;
    }
  }
  return [...byCustomer.values()];
}

function renderList() {
  const list = $("conversations");
  list.textContent = "";
  const rows = customerRows();
  $("empty").hidden = rows.length > 0;
  $("empty").textContent = state.query ? `Nothing matches “${state.query}”.` : "No conversations.";
  for (const { row, others: more } of rows) {
    const li = el("li", "conv");
    const button = el("button", `conv-button${row.thread_id === state.selected ? " selected" : ""}`);
    button.type = "button";
    button.dataset.thread = row.thread_id;
    const top = el("div", "row between");
    top.appendChild(el("span", "name", row.customer.name));
    const count = unread(row);
    if (count && row.thread_id !== state.selected) {
      const badge = el("span", "badge unread", String(count));
      badge.setAttribute("aria-label", `${count} unread`);
      top.appendChild(badge);
    }
    if (row.customer.tier) top.appendChild(el("span", `badge tier-${row.customer.tier.toLowerCase()}`, row.customer.tier));
    const bottom = el("div", "row between");
    const stateLabel = row.attention && row.state !== "human" ? "waiting" : { waiting: "waiting for review", human: "human" }[row.state] || row.state;
    bottom.appendChild(el("span", `chip state-${row.state}`, stateLabel));
    if (row.attention) bottom.appendChild(el("span", "badge badge-warning attention", row.attention));
    if (row.status === "reopened") bottom.appendChild(el("span", "badge badge-info", "reopened"));
    if (row.assigned_to) bottom.appendChild(el("span", "assignee caption", row.assigned_to === body.user ? "you" : row.assigned_to));
    if (row.proposals_waiting) bottom.appendChild(el("span", "badge badge-warning", `${row.proposals_waiting} to review`));
    if (row.commits_failed) bottom.appendChild(el("span", "badge badge-danger", `${row.commits_failed} failed`));
    if (row.escalated) bottom.appendChild(el("span", "badge badge-danger escalated", "supervisor asked"));
    const others = othersViewing(row.thread_id);
    if (others.length) bottom.appendChild(el("span", "badge badge-info viewing", `${others.join(", ")} viewing`));
    const wait = el("span", "wait");
    wait.dataset.since = row.waiting_since || "";
    bottom.appendChild(wait);
    if (!row.waiting_since && row.last_customer_at) {
      const ago = el("time", "ago caption", agoLabel(row.last_customer_at));
      ago.dateTime = row.last_customer_at;
      ago.title = new Date(row.last_customer_at).toLocaleString();
      bottom.appendChild(ago);
    }
    if (more) bottom.appendChild(el("span", "badge more-conversations", `+${more} more`));
    button.append(top, ...(row.last_message ? [el("div", "preview caption", row.last_message)] : []), bottom);
    button.addEventListener("click", () => select(row.thread_id));
    li.appendChild(button);
    list.appendChild(li);
  }
  tickWaits();
  renderCounts();
}

function tickWaits() {
  for (const node of document.querySelectorAll(".wait")) {
    // Never below zero: the server's clock is estimated at page load, a few hundred milliseconds out at most.
    const seconds = node.dataset.since ? Math.max(0, (serverNow() - Date.parse(node.dataset.since)) / 1000) : null;
    node.textContent = waitLabel(seconds);
    node.className = `wait ${seconds === null ? "" : seconds >= SLA.late ? "sla-late" : seconds >= SLA.warn ? "sla-warn" : "sla-ok"}`;
  }
}

let listed = false; // the page's first read of the list notifies of nothing: it is what was there already

async function loadList() {
  const data = await api("GET", `/console/api/conversations?filter=${state.filter === "resolved" ? "resolved" : "all"}`);
  if (data.epoch) state.epoch = data.epoch;
  for (const row of data.conversations) {
    // A list read before events we have already applied must not undo them (a row created, then described by a
    // later event, would lose its name to a list read in between).
    const applied = state.lastSeq.get(row.thread_id);
    const older = applied !== undefined && row.last_seq < applied && state.rows.has(row.thread_id);
    if (!older) {
      // A later read can get ahead of the feed (after a reconnect, or while a new conversation's events are on
      // their way): a change it brings is noticed here, as its events would have been, since they now find it made.
      const before = state.rows.get(row.thread_id);
      state.rows.set(row.thread_id, row);
      if (listed) noticeChanges(before, row, {});
    }
    state.read.set(row.thread_id, Math.max(state.read.get(row.thread_id) || 0, row.read_messages || 0));
    state.viewers.set(row.thread_id, row.viewers || []);
    if (!state.lastSeq.has(row.thread_id)) state.lastSeq.set(row.thread_id, row.last_seq);
  }
  listed = true;
  renderList();
}

let listReload = null;
function reloadListSoon() {
  clearTimeout(listReload);
  listReload = setTimeout(() => loadList().catch(() => {}), 150);
}

export { waitedSeconds, waitLabel, agoLabel, unread, reading, markRead, matches, renderCounts, visible, sortedRows, customerRows, renderList, tickWaits, loadList, listReload, reloadListSoon };
