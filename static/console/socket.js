// The live feed (/ws/console/): numbered events applied in order, resync after gaps and reconnects.
import { markCopilotStale } from "./copilot.js";
import { $, body, state } from "./core.js";
import { loadList, markRead, reloadListSoon, renderList } from "./list.js";
import { noticeChanges, toast } from "./notifications.js";
import { decide, renderProposals } from "./proposals.js";
import { onPresence, placeClick, placeNote, renderHead, sayViewing, select, upsertItem } from "./transcript.js";

// --- live events ------------------------------------------------------------------------------
let live = null; // keepLive's handle (static/shared/sockets.js): live.socket is the socket of the moment

function send(message) {
  const socket = live && live.socket;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function resync(conversations) {
  const since = {};
  for (const id of conversations) {
    since[id] = state.lastSeq.get(id) || 0;
    state.resyncing.add(id);
  }
  if (Object.keys(since).length) send({ type: "resync", since });
}

// The feed's numbering restarted (Redis came back empty): numbers this page holds mean nothing any more, and
// new events would look "already applied". Start again from the server's state.
function feedRestarted(epoch) {
  if (!epoch || !state.epoch || epoch === state.epoch) return false;
  state.epoch = epoch;
  state.lastSeq.clear();
  state.resyncing.clear();
  loadList().catch(() => {});
  if (state.selected) select(state.selected).catch(() => {});
  return true;
}

// Every conversation's list events (rows, proposals) reach this page, but chat events only for the selected
// conversation: so numbers are checked for continuity there alone, and elsewhere only move forward.
function onEvent(event) {
  if (feedRestarted(event.epoch)) return;
  const id = event.conversation;
  const last = state.lastSeq.get(id);
  if (last === undefined) {
    state.lastSeq.set(id, event.seq); // a conversation we have not listed yet
    reloadListSoon();
  } else if (event.seq <= last) {
    return; // already applied (a resync can overlap live delivery)
  } else if (id === state.selected && event.seq > last + 1) {
    if (!state.resyncing.has(id)) resync([id]); // missed some: the resync replays them and this one in order
    return;
  } else {
    state.lastSeq.set(id, event.seq);
  }
  apply(event);
}

function apply(event) {
  const id = event.conversation;
  if (event.kind === "proposal" && event.action === "escalated" && body.canRetry && event.proposal.escalation?.by !== body.user) {
    const who = event.proposal.customer.name;
    toast(`${event.proposal.escalation.by} asks you to decide on ${who}'s return (proposal #${event.proposal.id}).`, id);
  }
  if (event.row) {
    const before = state.rows.get(id);
    state.rows.set(id, { ...(before || {}), ...event.row });
    noticeChanges(before, state.rows.get(id), event);
    if (id === state.selected) markRead(id);
    renderList();
  }
  if (id !== state.selected) return;
  if (event.oversize) return void select(id).catch(() => {}); // too big to relay: read the conversation
  if (event.kind === "chat" && event.event.type !== "assistant.turn") markCopilotStale(event.seq);
  if (event.kind === "chat") {
    const e = event.event;
    if (e.type === "thread.item.done" || e.type === "thread.item.replaced") {
      upsertItem(e.item);
      $("progress").hidden = true;
    } else if (e.type === "thread.item.removed") {
      const node = $("messages").querySelector(`[data-item-id="${CSS.escape(e.item_id)}"]`);
      if (node) node.remove();
    } else if (e.type === "customer.click") {
      placeClick(e);
    } else if (e.type === "customer.rating") {
      state.rows.set(id, { ...state.rows.get(id), rating: e });
      renderHead();
    } else if (e.type === "assistant.turn") {
      for (const itemId of e.item_ids) {
        state.turns.set(itemId, e);
        const known = state.items.get(itemId);
        if (known) upsertItem(known);
      }
    } else if (e.type === "progress_update") {
      $("progress-text").textContent = e.text;
      $("progress").hidden = false;
    }
  } else if (event.kind === "note") {
    placeNote(event.note);
  } else if (event.kind === "proposal") {
    state.proposals.set(event.proposal.id, event.proposal);
    renderProposals();
    if (event.action === "committed" || String(event.action).startsWith("lifecycle")) select(id);
  } else if (event.kind === "conversation") {
    renderHead();
  }
}

function connect() {
  live = keepLive("/ws/console/", {
    onOpen: (_, isReconnect) => {
      if (isReconnect) {
        loadList().catch(() => {}); // rows changed while away
        if (state.selected) resync([state.selected]);
      }
      if (state.selected) sayViewing(); // presence does not survive the socket
    },
    onMessage: (data) => {
      if (data.type === "event") onEvent(data);
      else if (data.type === "events") data.events.forEach(onEvent); // a burst of one conversation, in order
      else if (data.type === "presence") onPresence(data);
      else if (data.type === "resynced") {
        state.resyncing.delete(data.conversation);
        if (feedRestarted(data.epoch)) return;
        // the feed no longer holds all that was missed (away longer than it keeps): read the conversation
        if (data.complete === false && data.conversation === state.selected) select(data.conversation).catch(() => {});
      }
    },
    onClose: (event) => {
      if (event.code !== 4403) return true;
      location.href = "/admin/login/?next=/console/"; // no longer staff: sign in again
      return false;
    },
  });
}

export { send, resync, feedRestarted, onEvent, apply, connect };
