// The selected conversation: its transcript (items, notes, clicks, earlier pages), head and presence.
import { loadSavedReplies, renderCopilotUse, resetCopilot } from "./copilot.js";
import { $, PRESENCE_REFRESH_MS, api, body, el, isStaff, renderComponent, staffBubble, state, textOf } from "./core.js";
import { markRead, renderList } from "./list.js";
import { renderCustomer, renderProposals } from "./proposals.js";
import { send } from "./socket.js";

// --- the selected conversation ---------------------------------------------------------------
// Which engine answered, and the tools the model called: shown under the assistant's messages.
function turnNote(turn) {
  const tools = (turn.tool_calls || []).map((call) => call.tool + (call.refused ? " (refused)" : "")).join(", ");
  const text = `${turn.engine}${turn.fallback ? " · fallback: " + turn.fallback : ""}${tools ? " · tools: " + tools : ""}`;
  const note = el("p", "caption engine", text);
  const refused = (turn.tool_calls || []).filter((call) => call.refused);
  if (refused.length) note.title = refused.map((call) => `${call.tool}: ${call.refused}`).join("\n");
  return note;
}

function renderItem(item) {
  const li = el("li", `item item-${item.type}`);
  li.dataset.itemId = item.id;
  if (item.type === "user_message") li.appendChild(el("div", "bubble user", textOf(item)));
  else if (item.type === "assistant_message" && isStaff(item)) li.appendChild(staffBubble(item));
  else if (item.type === "assistant_message") li.appendChild(el("div", "bubble assistant", textOf(item)));
  else if (item.type === "widget") li.appendChild(renderComponent(item.widget, { readOnly: true, links: false, onAction: () => {} }));
  else return null;
  li.appendChild(timeOf(item.created_at));
  const turn = state.turns.get(item.id);
  if (turn) li.appendChild(turnNote(turn));
  return li;
}

// Every transcript line says when: the time, the date and time on hover.
function timeOf(iso) {
  const at = el("time", "stamp caption", iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "");
  if (iso) {
    at.dateTime = iso;
    at.title = new Date(iso).toLocaleString();
  }
  return at;
}

// An internal note: for staff only (it never enters the customer's thread), in its own style.
function renderNote(note) {
  const li = el("li", "item item-note");
  li.dataset.noteId = String(note.id);
  const box = el("div", "note");
  box.append(el("div", "note-head caption", `Internal note · ${note.author}`), el("div", "note-text", note.text));
  li.append(box, timeOf(note.created_at));
  return li;
}

// Lines that are not items of the customer's thread (notes, clicks) go in by time among the items.
function placeByTime(node, createdAt) {
  const list = $("messages");
  node.dataset.created = createdAt;
  const later = [...list.querySelectorAll("li[data-created]")].find((li) => li.dataset.created > createdAt);
  list.insertBefore(node, later || null);
  if (!later) list.scrollTop = list.scrollHeight;
}

function placeNote(note) {
  if ($("messages").querySelector(`[data-note-id="${note.id}"]`)) return;
  placeByTime(renderNote(note), note.created_at);
}

// What the customer's click meant ("chose Store Credit"): the cards alone do not say which button it was.
function placeClick(click) {
  if ($("messages").querySelector(`[data-click-id="${click.id}"]`)) return;
  const li = el("li", "item item-click");
  li.dataset.clickId = String(click.id);
  li.append(el("div", "click caption", `${state.rows.get(state.selected)?.customer.name || "The customer"} ${click.text}`), timeOf(click.created_at));
  placeByTime(li, click.created_at);
}

function upsertItem(item) {
  state.items.set(item.id, item);
  const rendered = renderItem(item);
  if (!rendered) return;
  const list = $("messages");
  const existing = list.querySelector(`[data-item-id="${CSS.escape(item.id)}"]`);
  rendered.dataset.created = item.created_at || "";
  if (existing) existing.replaceWith(rendered);
  else list.appendChild(rendered);
  list.scrollTop = list.scrollHeight;
}

// --- paging back through a long transcript: the newest page opens, earlier pages load on scroll ----------
function renderEarlier() {
  const list = $("messages");
  let more = $("earlier");
  if (!state.earlier) {
    if (more) more.remove();
    return;
  }
  if (!more) {
    more = el("li", "earlier");
    more.id = "earlier";
    const button = el("button", "secondary", "Show earlier messages");
    button.type = "button";
    button.addEventListener("click", () => loadEarlier());
    more.appendChild(button);
  }
  list.prepend(more);
}

async function loadEarlier() {
  const threadId = state.selected;
  const cursor = state.earlier;
  if (!cursor || state.loadingEarlier) return;
  state.loadingEarlier = true;
  try {
    const page = await api("GET", `/console/api/conversations/${encodeURIComponent(threadId)}/items?before=${encodeURIComponent(cursor)}`);
    if (state.selected !== threadId || state.earlier !== cursor) return;
    const list = $("messages");
    const fromBottom = list.scrollHeight - list.scrollTop; // the agent keeps their place
    const first = list.querySelector("li[data-item-id]");
    for (const item of page.items) {
      if (state.items.has(item.id)) continue;
      state.items.set(item.id, item);
      const rendered = renderItem(item);
      if (rendered) list.insertBefore(rendered, first);
    }
    state.earlier = page.earlier;
    renderEarlier();
    list.scrollTop = list.scrollHeight - fromBottom;
  } finally {
    state.loadingEarlier = false;
  }
}

$("messages").addEventListener("scroll", () => {
  if ($("messages").scrollTop < 40 && state.earlier) loadEarlier().catch(() => {});
});

function renderHead() {
  const row = state.rows.get(state.selected);
  if (!row) return;
  $("thread-head").hidden = false;
  $("thread-title").textContent = row.customer.name;
  const closedBy = row.closed_by === "customer" ? "closed: the customer deleted this conversation" : row.state;
  const rated = row.rating ? ` · rated ${row.rating.rating}/5${row.rating.comment ? ` “${row.rating.comment}”` : ""}` : "";
  $("thread-sub").textContent = `${row.customer.tier || ""} · ${closedBy}${row.assigned_to ? " · " + row.assigned_to : ""}${rated}`;
  $("mode").value = row.mode;
  const gone = Boolean(row.closed_by); // nothing can be said there any more
  $("mode").disabled = gone;
  $("take-over").hidden = gone || row.mode === "human";
  $("hand-back").hidden = gone || row.mode !== "human";
  $("assign").value = row.assigned_to || "";
  $("assign").disabled = gone;
  $("resolve").hidden = gone || row.status === "resolved";
  $("reopen").hidden = gone || row.status !== "resolved";
  if (row.status === "resolved") $("resolve-form").hidden = true;
  const resolved = row.resolved;
  $("resolved-note").hidden = !resolved;
  $("resolved-note").textContent = resolved
    ? `Resolved by ${resolved.by || "staff"} ${new Date(resolved.at).toLocaleString()}${resolved.note ? `: ${resolved.note}` : ""}`
    : "";
  $("composer").hidden = gone || row.mode !== "human";
  $("note-form").hidden = false; // notes stay possible on a closed conversation: the team may still discuss it
  $("copilot").hidden = false;
  if (state.copilot) renderCopilotUse();
  renderViewers();
}

// --- presence: who else has a conversation open ------------------------------------------------
function othersViewing(threadId) {
  return (state.viewers.get(threadId) || []).filter((name) => name !== body.user);
}

function renderViewers() {
  const others = state.selected ? othersViewing(state.selected) : [];
  $("viewers").hidden = others.length === 0;
  $("viewers").textContent = others.length ? `Also here: ${others.join(", ")}` : "";
}

function sayViewing() {
  send({ type: "viewing", conversation: state.selected });
}
setInterval(() => state.selected && sayViewing(), PRESENCE_REFRESH_MS);

function onPresence(data) {
  state.viewers.set(data.conversation, data.viewers);
  renderList();
  if (data.conversation === state.selected) renderViewers();
}

async function select(threadId) {
  if (state.selected !== threadId) {
    state.selected = threadId;
    sayViewing();
  }
  markRead(threadId);
  state.items.clear();
  state.earlier = null;
  state.proposals.clear();
  resetCopilot();
  renderList();
  $("messages").textContent = "";
  const detail = await api("GET", `/console/api/conversations/${encodeURIComponent(threadId)}`);
  if (state.selected !== threadId) return;
  state.rows.set(threadId, { ...state.rows.get(threadId), ...detail });
  state.lastSeq.set(threadId, Math.max(state.lastSeq.get(threadId) || 0, detail.last_seq));
  state.turns = new Map(Object.entries(detail.turns || {}));
  for (const item of detail.items) upsertItem(item);
  for (const note of detail.notes || []) placeNote(note);
  for (const click of detail.clicks || []) placeClick(click);
  state.earlier = detail.earlier;
  renderEarlier();
  for (const proposal of detail.proposals) state.proposals.set(proposal.id, proposal);
  state.context = detail.customer_context;
  state.customerConversations = detail.customer_conversations || [];
  loadSavedReplies(threadId).catch(() => {});
  renderHead();
  renderProposals();
  renderCustomer();
}

export { turnNote, renderItem, timeOf, renderNote, placeByTime, placeNote, placeClick, upsertItem, renderEarlier, loadEarlier, renderHead, othersViewing, renderViewers, sayViewing, onPresence, select };
