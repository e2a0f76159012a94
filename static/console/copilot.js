// The copilot's draft and saved replies: text for the agent to edit; it reaches the customer only if sent.
import { $, api, body, state } from "./core.js";
import { conversationAction } from "./main.js";
import { select } from "./transcript.js";

let savedReplies = [];
// --- copilot: a draft for the agent to edit; it reaches the customer only if the agent sends it ---------
function resetCopilot() {
  state.copilot = null;
  $("copilot").hidden = !state.selected;
  $("copilot-body").hidden = true;
  $("copilot-status").textContent = "";
}

async function draftWithCopilot() {
  const threadId = state.selected;
  $("copilot-status").textContent = "Drafting…";
  try {
    const draft = await api("GET", `/console/api/conversations/${encodeURIComponent(threadId)}/copilot`);
    if (state.selected !== threadId) return;
    state.copilot = draft;
    $("copilot-summary").textContent = draft.summary;
    $("copilot-policy").textContent = draft.policy_note;
    $("copilot-reply").textContent = draft.suggested_reply;
    $("copilot-engine").textContent = draft.engine;
    $("copilot-body").hidden = false;
    $("copilot").classList.remove("stale");
    $("copilot-status").textContent = "";
    renderCopilotUse();
  } catch (error) {
    $("copilot-status").textContent = error.message;
  }
}

function renderCopilotUse() {
  const row = state.rows.get(state.selected);
  const canReply = row && row.mode === "human" && !row.closed_by;
  $("copilot-use").textContent = canReply ? "Use in reply" : "Take over to reply";
}

function markCopilotStale(seq) {
  if (!state.copilot || seq <= state.copilot.as_of_seq || $("copilot").classList.contains("stale")) return;
  $("copilot").classList.add("stale");
  $("copilot-status").textContent = "The conversation has moved on since this draft: draft again.";
}

$("copilot-draft").addEventListener("click", draftWithCopilot);
$("copilot-use").addEventListener("click", async () => {
  if (!state.copilot) return;
  const row = state.rows.get(state.selected);
  if (!row || row.mode !== "human") await conversationAction("take-over", {});
  $("reply").value = state.copilot.suggested_reply;
  $("reply").focus();
});

async function loadSavedReplies(threadId) {
  const data = await api("GET", `/console/api/conversations/${encodeURIComponent(threadId)}/saved-replies`);
  if (state.selected !== threadId) return;
  savedReplies = data.saved_replies;
  const select = $("saved-replies");
  select.length = 1;
  savedReplies.forEach((reply, index) => select.appendChild(new Option(reply.title, String(index))));
}
$("saved-replies").addEventListener("change", (event) => {
  const reply = savedReplies[Number(event.target.value)];
  event.target.value = "";
  if (!reply) return;
  $("reply").value = reply.text;
  $("reply").focus();
});

export { savedReplies, resetCopilot, draftWithCopilot, renderCopilotUse, markCopilotStale, loadSavedReplies };
