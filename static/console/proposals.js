// The proposal panel (approve, edit with a live total, reject, escalate) and the customer's context.
import { $, RESOLUTIONS, SHIPPING, api, body, el, money, state } from "./core.js";
import { select } from "./transcript.js";

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
  card.appendChild(customerConversations());
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

// One customer is one person: their other conversations, a click away.
function customerConversations() {
  const section = el("div", "customer-conversations");
  const all = state.customerConversations || [];
  section.appendChild(el("h4", "", `Conversations (${all.length})`));
  const list = el("ul", "plain");
  for (const conversation of all) {
    const li = el("li");
    const current = conversation.thread_id === state.selected;
    const status = conversation.closed ? "closed" : conversation.status;
    const started = new Date(conversation.started_at).toLocaleDateString(undefined, { day: "numeric", month: "short" });
    const label = `${started} · ${status}${conversation.last_message ? " · " + conversation.last_message : ""}`;
    const button = el("button", `link conversation-link${current ? " current" : ""}`, label);
    button.type = "button";
    button.dataset.thread = conversation.thread_id;
    if (current) button.setAttribute("aria-current", "true");
    else button.addEventListener("click", () => select(conversation.thread_id));
    li.appendChild(button);
    list.appendChild(li);
  }
  section.appendChild(list);
  return section;
}

export { amountsTable, evidence, decide, editForm, messageForm, escalateForm, renderProposal, renderProposals, renderCustomer };
