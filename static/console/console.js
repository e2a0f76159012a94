// The staff dashboard: live conversation list, transcript, proposal panel with approve/edit/reject, take over.
// State comes from the JSON API; changes arrive on /ws/console/ numbered per conversation. A gap in the numbers
// (or a reconnect) asks the server for exactly what was missed.
(function () {
  "use strict";

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
    viewers: new Map(), // thread id -> staff who have it open (presence)
  };
  const PRESENCE_REFRESH_MS = Number(body.presenceRefreshMs); // the server's, well inside its time to live
  // Waiting times are measured on the server's clock: a laptop set a few minutes wrong must not hide a late reply.
  const CLOCK_SKEW_MS = Date.parse(body.serverNow) - Date.now() || 0;
  const serverNow = () => Date.now() + CLOCK_SKEW_MS;

  // --- HTTP ----------------------------------------------------------------------------------
  function csrf() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(method, url, payload) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
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
      const n = filter === "resolved" && state.filter !== "resolved" ? null : rows.filter((row) => matches(row, filter)).length;
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

  function renderList() {
    const list = $("conversations");
    list.textContent = "";
    const rows = sortedRows();
    $("empty").hidden = rows.length > 0;
    $("empty").textContent = state.query ? `Nothing matches “${state.query}”.` : "No conversations.";
    for (const row of rows) {
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

  async function loadList() {
    const data = await api("GET", `/console/api/conversations?filter=${state.filter === "resolved" ? "resolved" : "all"}`);
    if (data.epoch) state.epoch = data.epoch;
    for (const row of data.conversations) {
      state.rows.set(row.thread_id, row);
      state.read.set(row.thread_id, Math.max(state.read.get(row.thread_id) || 0, row.read_messages || 0));
      state.viewers.set(row.thread_id, row.viewers || []);
      if (!state.lastSeq.has(row.thread_id)) state.lastSeq.set(row.thread_id, row.last_seq);
    }
    renderList();
  }

  let listReload = null;
  function reloadListSoon() {
    clearTimeout(listReload);
    listReload = setTimeout(() => loadList().catch(() => {}), 150);
  }

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
    else if (item.type === "widget") li.appendChild(renderComponent(item.widget, { readOnly: true, onAction: () => {} }));
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
    $("thread-sub").textContent = `${row.customer.tier || ""} · ${closedBy}${row.assigned_to ? " · " + row.assigned_to : ""}`;
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
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "viewing", conversation: state.selected }));
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
    loadSavedReplies(threadId).catch(() => {});
    renderHead();
    renderProposals();
    renderCustomer();
  }

  // --- proposals -------------------------------------------------------------------------------
  function amountsTable(p) {
    const table = el("table", "amounts");
    const rows = [
      ["Merchandise", p.amounts_cents.merchandise],
      ["Restocking fee", -p.amounts_cents.restocking_fee],
      ["Return shipping", -p.amounts_cents.shipping_cost],
      ["Store-credit bonus", p.amounts_cents.bonus],
      ["Keep discount", p.amounts_cents.discount],
      ["Refund", p.amounts_cents.refund],
      ["Store credit", p.amounts_cents.store_credit],
    ];
    for (const [label, cents] of rows) {
      if (!cents && label !== "Merchandise") continue;
      const tr = el("tr");
      tr.append(el("td", "", label), el("td", "num", money(cents)));
      table.appendChild(tr);
    }
    const total = el("tr", "total");
    total.append(el("td", "", "Total"), el("td", "num", money(p.amounts_cents.total)));
    table.appendChild(total);
    return table;
  }

  function evidence(p) {
    const details = el("details", "evidence");
    details.appendChild(el("summary", "", "Evidence and policy"));
    for (const line of p.evidence.eligibility || []) {
      const text = `${line.sku}: ${line.eligible ? "eligible" : "not eligible"} · ${line.message}` +
        (line.window_ends_on ? ` · window ends ${line.window_ends_on}` : "");
      details.appendChild(el("p", "caption", text));
    }
    const policy = p.evidence.policy || {};
    details.appendChild(el("p", "caption", `Policy: ${policy.name || "?"} (version ${policy.version ?? "?"})`));
    for (const note of p.notes || []) details.appendChild(el("p", "caption", note));
    return details;
  }

  function decide(p, action, payload, panel) {
    const status = panel.querySelector(".decision-status");
    status.textContent = "Working…";
    status.className = "decision-status caption";
    return api("POST", `/console/api/proposals/${p.id}/${action}`, { version: p.version, ...payload })
      .then((updated) => {
        state.proposals.set(updated.id, updated);
        renderProposals();
      })
      .catch((error) => {
        status.textContent = error.message;
        status.className = "decision-status caption c-danger";
        if (error.status === 409 && error.data.proposal) {
          state.proposals.set(error.data.proposal.id, error.data.proposal);
          setTimeout(renderProposals, 2500);
        }
      });
  }

  function editForm(p, panel) {
    const form = el("form", "edit");
    for (const line of p.lines) {
      const label = el("label", "", `${line.name} quantity `);
      const input = el("input");
      Object.assign(input, { type: "number", min: 1, value: line.quantity, name: `qty-${line.sku}` });
      input.dataset.sku = line.sku;
      label.appendChild(input);
      form.appendChild(label);
    }
    const select = (name, options, value) => {
      const node = el("select");
      node.name = name;
      for (const option of options) node.appendChild(Object.assign(el("option", "", option), { value: option }));
      node.value = value || options[0];
      return node;
    };
    const resolution = select("resolution", RESOLUTIONS, p.resolution);
    const shipping = select("shipping", SHIPPING, p.shipping);
    const override = Object.assign(el("input"), { type: "number", step: "0.01", min: 0, placeholder: "leave empty to use the rules" });
    const reason = Object.assign(el("textarea"), { rows: 2, placeholder: "Why (required for an amount override)" });
    for (const [text, node] of [["Resolution", resolution], ["Shipping", shipping], ["Amount override", override], ["Reason", reason]]) {
      const label = el("label", "", text + " ");
      label.appendChild(node);
      form.appendChild(label);
    }
    // The new total as the fields change, by the server's rules (never computed here), and whether the customer
    // must agree to it.
    const preview = el("p", "edit-preview caption");
    preview.setAttribute("role", "status");
    const save = Object.assign(el("button", "primary", "Save and approve"), { type: "submit" });
    const cancel = Object.assign(el("button", "", "Cancel"), { type: "button" });
    cancel.addEventListener("click", () => form.remove());
    const buttons = el("div", "row");
    buttons.append(save, cancel);
    form.append(preview, buttons);
    const payload = () => {
      const quantities = {};
      form.querySelectorAll("input[data-sku]").forEach((input) => (quantities[input.dataset.sku] = Number(input.value)));
      const body = { quantities, resolution: resolution.value, shipping: shipping.value, reason_for_change: reason.value };
      if (override.value !== "") body.amount_override_cents = Math.round(Number(override.value) * 100);
      return body;
    };
    let pending = null;
    let asked = 0;
    const refresh = () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const mine = ++asked;
        try {
          const quote = await api("POST", `/console/api/proposals/${p.id}/preview`, payload());
          if (mine !== asked) return; // a newer change is on its way
          const change = quote.customer_gets_cents - quote.confirmed_cents;
          preview.textContent = `New total ${money(quote.customer_gets_cents)} (confirmed ${money(quote.confirmed_cents)}${change ? `, ${change > 0 ? "+" : "−"}${money(Math.abs(change))}` : ""}).`;
          preview.className = "edit-preview caption";
          if (quote.needs_customer) {
            preview.append(el("span", "c-warning needs-customer", ` Needs the customer's agreement: ${quote.needs_customer}`));
          }
          save.textContent = quote.needs_customer ? "Offer to the customer" : "Save and approve";
        } catch (error) {
          if (mine !== asked) return;
          preview.textContent = error.message;
          preview.className = "edit-preview caption c-danger";
        }
      }, 250);
    };
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    refresh();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      decide(p, "edit", payload(), panel);
    });
    return form;
  }

  // A decision that needs a message for the customer: reject a proposal, close a failed commit.
  function messageForm(p, panel, action, label) {
    const form = el("form", action);
    const message = Object.assign(el("textarea"), { rows: 2, placeholder: "Message for the customer (required)" });
    message.setAttribute("aria-label", "Message for the customer");
    const send = Object.assign(el("button", "danger", label), { type: "submit" });
    form.append(message, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      decide(p, action, { message: message.value }, panel);
    });
    return form;
  }

  function escalateForm(p, panel) {
    const form = el("form", "escalate");
    const note = Object.assign(el("textarea"), { rows: 2, placeholder: "What should the supervisor know? (optional)" });
    note.setAttribute("aria-label", "Note for the supervisor");
    const send = Object.assign(el("button", "primary", "Send to a supervisor"), { type: "submit" });
    form.append(note, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      decide(p, "escalate", { note: note.value }, panel);
    });
    return form;
  }

  function renderProposal(p) {
    const panel = el("section", `proposal state-${p.state}`);
    panel.dataset.proposalId = p.id;
    const head = el("div", "row between");
    head.append(el("h3", "title", `Proposal #${p.id}`), el("span", `chip state-${p.state}`, p.state_label));
    panel.appendChild(head);
    panel.appendChild(el("p", "caption", `${p.order_id} · ${p.reason} · ${p.resolution}${p.shipping ? " · " + p.shipping : ""}`));
    const lines = el("ul", "lines");
    for (const line of p.lines) lines.appendChild(el("li", "", `${line.quantity} × ${line.name} @ ${money(line.unit_price_cents)}`));
    panel.append(lines, amountsTable(p), evidence(p));
    if (p.decided_by || p.decided_by_rule) panel.appendChild(el("p", "caption", `Decided by ${p.decided_by || "rule: " + p.decided_by_rule}`));
    if (p.return_id) panel.appendChild(el("p", "caption", `Return ${p.return_id}`));
    if (p.failure) panel.appendChild(el("p", "caption c-danger", `Commit failed: ${p.failure.message}`));
    if (p.overlaps && p.overlaps.length) {
      const names = p.overlaps.map((id) => `#${id}`).join(", ");
      panel.appendChild(el("p", "caption c-warning overlap", `Asks for the same units as proposal ${names}: only one can go ahead.`));
    }
    if (p.customer_message) panel.appendChild(el("p", "caption", `Told the customer: ${p.customer_message}`));
    if (p.offer) {
      const back = (p.offer.quote.refund_cents || 0) + (p.offer.quote.store_credit_cents || 0);
      panel.appendChild(
        el("p", "caption c-info offer", `${p.offer.by} offered the customer ${p.offer.resolution}, ${money(back)} back: waiting for their answer.`)
      );
    }
    if (p.escalation) {
      const asked = `${p.escalation.by || "Someone"} asked a supervisor${p.escalation.note ? `: “${p.escalation.note}”` : "."}`;
      panel.appendChild(el("p", "caption c-warning escalation", asked));
    }
    const status = el("p", "decision-status caption");
    if (p.state === "proposed") {
      const actions = el("div", "row");
      const approve = Object.assign(el("button", "primary", "Approve (a)"), { type: "button" });
      const edit = Object.assign(el("button", "", "Edit"), { type: "button" });
      const reject = Object.assign(el("button", "", "Reject (r)"), { type: "button" });
      approve.dataset.action = "approve";
      reject.dataset.action = "reject";
      const limit = body.limit === "" ? null : Number(body.limit);
      const overLimit = limit !== null && p.amounts_cents.total > limit;
      approve.addEventListener("click", () => decide(p, "approve", {}, panel));
      edit.addEventListener("click", () => panel.querySelector(".edit") || panel.insertBefore(editForm(p, panel), status));
      reject.addEventListener("click", () => {
        const form = panel.querySelector(".reject") || panel.insertBefore(messageForm(p, panel, "reject", "Reject"), status);
        form.querySelector("textarea").focus();
      });
      if (overLimit) {
        // Not a dead Approve button: above my limit, the way forward is asking a supervisor.
        status.textContent = `Above your approval limit of ${money(limit)}.`;
        approve.hidden = true;
        delete approve.dataset.action;
        const ask = Object.assign(el("button", "primary", p.escalation ? "Supervisor asked" : "Ask a supervisor"), { type: "button" });
        ask.disabled = Boolean(p.escalation);
        ask.addEventListener("click", () => {
          const form = panel.querySelector(".escalate") || panel.insertBefore(escalateForm(p, panel), status);
          form.querySelector("textarea").focus();
        });
        actions.append(ask);
      }
      actions.append(approve, edit, reject);
      panel.appendChild(actions);
    } else if (p.state === "failed" && body.canRetry) {
      // Retry only where sending again can help; otherwise the supervisor closes it, telling the customer.
      if (p.can_retry) {
        const retry = Object.assign(el("button", "primary", "Retry commit"), { type: "button" });
        retry.addEventListener("click", () => decide(p, "retry", {}, panel));
        panel.appendChild(retry);
      }
      panel.appendChild(messageForm(p, panel, "close", "Close without a return"));
    }
    panel.appendChild(status);
    return panel;
  }

  function renderProposals() {
    const box = $("proposals");
    box.textContent = "";
    const proposals = [...state.proposals.values()].sort((a, b) => b.id - a.id);
    if (state.selected && !proposals.length) box.appendChild(el("p", "caption", "No proposals in this conversation yet."));
    for (const p of proposals) box.appendChild(renderProposal(p));
  }

  // --- customer context ---------------------------------------------------------------------------
  function renderCustomer() {
    const box = $("customer");
    box.textContent = "";
    const c = state.context;
    if (!c) return;
    const card = el("section", "customer");
    card.appendChild(el("h3", "title", c.name));
    card.appendChild(el("p", "caption", `${c.email} · ${c.tier} · store credit ${money(c.store_credit_cents)}`));
    card.appendChild(el("h4", "", "Returns"));
    if (!c.returns.length) card.appendChild(el("p", "caption", "None yet."));
    for (const r of c.returns) {
      const row = el("div", "return");
      row.appendChild(el("p", "text", `${r.return_id} · ${r.order_id} · ${r.status.replace(/_/g, " ")}${r.tracking_number ? " · " + r.tracking_number : ""}`));
      const steps = el("div", "row wrap");
      for (const next of r.next) {
        const cancelling = next === "cancelled";
        const label = cancelling ? "cancel return" : next.replace(/_/g, " ");
        const step = Object.assign(el("button", cancelling ? "small danger" : "small", label), { type: "button" });
        step.addEventListener("click", async () => {
          const moneyBack = r.store_credit_cents ? `the ${money(r.store_credit_cents)} store credit is taken back` : `the ${money(r.refund_cents)} refund is voided`;
          if (cancelling && !window.confirm(`Cancel return ${r.return_id}? ${moneyBack}, the items become returnable again and the customer is told.`)) return;
          try {
            await api("POST", `/console/api/returns/${encodeURIComponent(r.return_id)}/advance`, { status: next });
            await select(state.selected);
          } catch (error) {
            row.appendChild(el("p", "caption c-danger", error.message));
          }
        });
        steps.appendChild(step);
      }
      row.appendChild(steps);
      card.appendChild(row);
    }
    card.appendChild(el("h4", "", "Orders"));
    for (const order of c.orders.slice(0, 8)) {
      const lines = order.lines.map((l) => `${l.quantity} × ${l.name}${l.returned ? ` (${l.returned} returned)` : ""}`).join(", ");
      card.appendChild(el("p", "caption", `${order.order_id}: ${lines}`));
    }
    box.appendChild(card);
  }

  // --- live events ------------------------------------------------------------------------------
  let socket = null;
  let retryMs = 500;

  function resync(conversations) {
    const since = {};
    for (const id of conversations) {
      since[id] = state.lastSeq.get(id) || 0;
      state.resyncing.add(id);
    }
    if (socket && socket.readyState === WebSocket.OPEN && Object.keys(since).length) socket.send(JSON.stringify({ type: "resync", since }));
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

  function connect(isReconnect) {
    socket = new WebSocket(liveSocketURL("/ws/console/"));
    socket.addEventListener("open", () => {
      retryMs = 500;
      document.body.dataset.live = "on";
      if (isReconnect) {
        loadList().catch(() => {}); // rows changed while away
        if (state.selected) resync([state.selected]);
      }
      if (state.selected) sayViewing(); // presence does not survive the socket
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "event") onEvent(data);
      else if (data.type === "events") data.events.forEach(onEvent); // a burst of one conversation, in order
      else if (data.type === "presence") onPresence(data);
      else if (data.type === "resynced") {
        state.resyncing.delete(data.conversation);
        feedRestarted(data.epoch);
      }
    });
    socket.addEventListener("close", (event) => {
      document.body.dataset.live = "off";
      if (event.code === 4403) return (location.href = `/admin/login/?next=/console/`);
      setTimeout(() => connect(true), retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    });
  }

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

  // --- noticed without watching: desktop notifications and a sound, for what needs a person ----------
  const notifyPrefs = { desktop: localStorage.getItem("console.notify") === "on", sound: localStorage.getItem("console.sound") === "on" };

  function renderNotifyControls() {
    $("notify").setAttribute("aria-pressed", String(notifyPrefs.desktop));
    $("notify").textContent = notifyPrefs.desktop ? "Notifications on" : "Notify me";
    $("sound").checked = notifyPrefs.sound;
  }

  $("notify").addEventListener("click", async () => {
    if (!notifyPrefs.desktop && "Notification" in window && Notification.permission === "default") {
      await Notification.requestPermission(); // asked once: the browser remembers the answer
    }
    notifyPrefs.desktop = !notifyPrefs.desktop && "Notification" in window && Notification.permission === "granted";
    localStorage.setItem("console.notify", notifyPrefs.desktop ? "on" : "off");
    renderNotifyControls();
  });
  $("sound").addEventListener("change", () => {
    notifyPrefs.sound = $("sound").checked;
    localStorage.setItem("console.sound", notifyPrefs.sound ? "on" : "off");
  });

  function chime() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const volume = audio.createGain();
    tone.frequency.value = 880;
    volume.gain.setValueAtTime(0.08, audio.currentTime);
    volume.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.4);
    tone.connect(volume).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  function notify(title, text, threadId) {
    if (notifyPrefs.sound) chime();
    if (!notifyPrefs.desktop || !("Notification" in window) || Notification.permission !== "granted") return;
    const shown = new Notification(title, { body: text, tag: `${title}:${threadId}` });
    shown.onclick = () => {
      window.focus();
      if (threadId) select(threadId);
    };
  }

  // New waiting conversations, escalations (supervisors) and failed commits (supervisors): said once each.
  function noticeChanges(before, after, event) {
    const name = after.customer ? after.customer.name : "A customer";
    const wasWaiting = before && matches(before, "waiting");
    if (matches(after, "waiting") && !wasWaiting) {
      notify("Waiting for you", `${name}: ${after.attention || (after.proposals_waiting ? "a return to review" : "a reply")}`, after.thread_id);
    }
    if (body.canRetry && event.kind === "proposal" && event.action === "escalated") {
      notify("A supervisor is asked", `${event.proposal.escalation?.by || "An agent"} asks you to decide on ${name}'s return.`, after.thread_id);
    }
    if (body.canRetry && (after.commits_failed || 0) > ((before && before.commits_failed) || 0)) {
      notify("A commit failed", `${name}'s return could not be committed: it is in the failed queue.`, after.thread_id);
    }
  }

  // --- toasts: what needs this person, said once, in the page -----------------------------------
  function toast(text, threadId) {
    const box = $("toasts");
    const note = el("button", "toast", text);
    note.type = "button";
    note.addEventListener("click", () => {
      note.remove();
      if (threadId) select(threadId);
    });
    box.appendChild(note);
    setTimeout(() => note.remove(), 15000);
  }

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
  loadList().then(() => connect(false));
})();
