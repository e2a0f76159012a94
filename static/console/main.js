// The console page: its controls, keyboard, search, and start-up. Loaded as an ES module by the page.
import { $, api, money, state } from "./core.js";
import { loadList, markRead, renderList, sortedRows, tickWaits } from "./list.js";
import { renderNotifyControls } from "./notifications.js";
import { connect } from "./socket.js";
import { placeNote, renderHead, select } from "./transcript.js";
import "./proposals.js";
import "./copilot.js";

// --- controls ----------------------------------------------------------------------------------
for (const button of document.querySelectorAll("[data-filter]")) {
  button.addEventListener("click", () => {
    const wasResolved = state.filter === "resolved";
    state.filter = button.dataset.filter;
    document.querySelectorAll("[data-filter]").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    renderList();
    if (wasResolved !== (state.filter === "resolved")) loadList().catch(() => {}); // resolved ones load on demand
  });
}

async function conversationAction(path, payload) {
  const row = await api("POST", `/console/api/conversations/${encodeURIComponent(state.selected)}/${path}`, payload);
  state.rows.set(row.thread_id, { ...state.rows.get(row.thread_id), ...row });
  renderList();
  renderHead();
}

$("take-over").addEventListener("click", () => conversationAction("take-over", {}));
$("assign").addEventListener("change", () => conversationAction("assign", { user: $("assign").value || null }));
$("resolve").addEventListener("click", () => {
  $("resolve-form").hidden = false;
  $("resolve-note").focus();
});
$("resolve-cancel").addEventListener("click", () => ($("resolve-form").hidden = true));
$("resolve-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await conversationAction("resolve", { note: $("resolve-note").value });
  $("resolve-note").value = "";
  $("resolve-form").hidden = true;
});
$("reopen").addEventListener("click", () => conversationAction("reopen", {}));
$("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!text) return;
  const { note } = await api("POST", `/console/api/conversations/${encodeURIComponent(state.selected)}/notes`, { text });
  placeNote(note);
  $("note-text").value = "";
});
$("hand-back").addEventListener("click", () => conversationAction("hand-back", {}));
$("mode").addEventListener("change", () => conversationAction("mode", { mode: $("mode").value }));
$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text) return;
  $("reply").value = "";
  await api("POST", `/console/api/conversations/${encodeURIComponent(state.selected)}/messages`, { text });
});
// Saved replies come filled in for the conversation; picking one puts it in the reply box to edit or send.
$("reply").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

// One key must not send money out by accident: "a" arms, a second "a" within a few seconds approves.
let armed = null;
function armOrApprove(button) {
  const panel = button.closest(".proposal");
  const status = panel.querySelector(".decision-status");
  if (armed && armed.panel === panel) {
    clearTimeout(armed.timer);
    armed = null;
    return button.click();
  }
  if (armed) clearTimeout(armed.timer);
  status.textContent = `Press a again to approve proposal #${panel.dataset.proposalId}.`;
  status.className = "decision-status caption c-warning";
  armed = {
    panel,
    timer: setTimeout(() => {
      armed = null;
      status.textContent = "";
    }, 4000),
  };
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
  const first = (action) => document.querySelector(`.proposal.state-proposed [data-action="${action}"]`);
  if (event.key === "/") $("search").focus();
  else if (event.key === "a" && first("approve")) armOrApprove(first("approve"));
  else if (event.key === "r" && first("reject")) first("reject").click();
  else if (event.key === "j") {
    const waiting = sortedRows().filter((row) => row.state === "waiting" && row.thread_id !== state.selected);
    if (waiting.length) select(waiting[0].thread_id);
  } else return;
  event.preventDefault();
});

// --- search ------------------------------------------------------------------------------------
let searching = null;
$("search").addEventListener("input", () => {
  clearTimeout(searching);
  searching = setTimeout(runSearch, 200);
});
$("search").addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  $("search").value = "";
  runSearch();
  $("search").blur();
});
async function runSearch() {
  const query = $("search").value.trim();
  state.query = query;
  if (!query) return renderList();
  const data = await api("GET", `/console/api/conversations?q=${encodeURIComponent(query)}`);
  if (state.query !== query) return; // typed on meanwhile
  state.found = new Set(data.conversations.map((row) => row.thread_id));
  for (const row of data.conversations) {
    state.rows.set(row.thread_id, { ...(state.rows.get(row.thread_id) || {}), ...row });
    if (!state.lastSeq.has(row.thread_id)) state.lastSeq.set(row.thread_id, row.last_seq);
  }
  renderList();
}

document.addEventListener("visibilitychange", () => state.selected && markRead(state.selected));
renderNotifyControls();
setInterval(tickWaits, 1000);
// A link to one conversation (from the insights page): /console/#conversation=<thread id>.
function openLinked() {
  const wanted = new URLSearchParams(location.hash.slice(1)).get("conversation");
  if (wanted && wanted !== state.selected) select(wanted).catch(() => {});
}
window.addEventListener("hashchange", openLinked);
loadList().then(() => {
  connect();
  openLinked();
});

export { conversationAction, armed, armOrApprove, searching, runSearch };
