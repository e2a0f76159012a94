// The customer chat page: sign-in, the transcript, widgets, streaming text, progress and feedback.
(function () {
  "use strict";

  const client = window.ChatKitClient;
  const $ = (id) => document.getElementById(id);
  const els = {
    signin: $("signin"),
    signinForm: $("signin-form"),
    signinError: $("signin-error"),
    chat: $("chat"),
    messages: $("messages"),
    progress: $("progress"),
    progressText: $("progress-text"),
    composer: $("composer"),
    input: $("message"),
    send: $("send"),
    signOut: $("sign-out"),
    threads: $("threads"),
    threadList: $("thread-list"),
  };
  const state = { threadId: null, customerId: null, busy: false, items: new Map(), pendingEcho: null, threads: [], lastUserItemId: null };
  const storageKey = () => `returns.thread.${state.customerId}`;

  const { el, renderComponent, textOf, isStaff, staffBubble } = window.ChatKitWidgets;
  // The page's words in the browser's language (Django's JavaScript catalog, /chat/i18n.js); English without it.
  const gettext = window.gettext || ((text) => text);
  const format = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_, key) => values[key]));

  // Drawn, not emoji: many systems (and headless browsers) have no emoji font.
  const THUMB_SVG =
    '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" ' +
    'd="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 ' +
    '2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"/></svg>';

  // --- rendering of thread items --------------------------------------------------------------
  function feedbackBar(item) {
    const bar = el("div", "feedback");
    for (const [kind, label] of [["positive", gettext("Helpful")], ["negative", gettext("Not helpful")]]) {
      const button = el("button", `icon thumb thumb-${kind}`);
      button.innerHTML = THUMB_SVG;
      button.type = "button";
      button.setAttribute("aria-label", label);
      button.addEventListener("click", async () => {
        bar.querySelectorAll("button").forEach((b) => (b.disabled = true));
        button.classList.add("chosen");
        button.setAttribute("aria-pressed", "true");
        try {
          await client.request("items.feedback", { thread_id: state.threadId, item_ids: [item.id], kind });
          bar.appendChild(el("span", "caption", gettext("Thanks for the feedback")));
        } catch (error) {
          bar.appendChild(el("span", "caption c-danger", gettext("Couldn't send feedback")));
        }
      });
      bar.appendChild(button);
    }
    return bar;
  }

  function renderItem(item) {
    const li = el("li", `item item-${item.type}`);
    li.dataset.itemId = item.id;
    if (item.type === "user_message") {
      li.appendChild(el("div", "bubble user", textOf(item)));
    } else if (item.type === "assistant_message" && isStaff(item)) {
      li.appendChild(staffBubble(item));
    } else if (item.type === "assistant_message") {
      li.appendChild(el("div", "bubble assistant", textOf(item)));
      li.appendChild(feedbackBar(item));
    } else if (item.type === "widget") {
      const readOnly = Boolean(item.answered);
      li.appendChild(renderComponent(item.widget, { onAction: (action, button) => runAction(item, action, button), readOnly }));
    } else if (item.type === "task" || item.type === "workflow") {
      li.appendChild(el("div", "caption", (item.task && item.task.title) || gettext("Working…")));
    } else {
      return null;
    }
    return li;
  }

  function upsertItem(item) {
    if (item.type === "user_message" && !item.id.startsWith("local-")) state.lastUserItemId = item.id;
    if (item.type === "user_message" && state.pendingEcho && item.id !== state.pendingEcho) {
      // The server's copy of what the customer typed replaces the instant local echo.
      const echo = els.messages.querySelector(`[data-item-id="${CSS.escape(state.pendingEcho)}"]`);
      if (echo) echo.remove();
      state.pendingEcho = null;
    }
    state.items.set(item.id, item);
    const rendered = renderItem(item);
    const existing = els.messages.querySelector(`[data-item-id="${CSS.escape(item.id)}"]`);
    if (!rendered) return;
    if (existing) existing.replaceWith(rendered);
    else els.messages.appendChild(rendered);
    rendered.scrollIntoView({ block: "end" });
  }

  function appendDelta(itemId, delta) {
    const node = els.messages.querySelector(`[data-item-id="${CSS.escape(itemId)}"] .bubble`);
    if (node) node.textContent += delta;
  }

  function showProgress(text) {
    els.progressText.textContent = text;
    els.progress.hidden = !text;
  }

  function notice(message, kind) {
    const li = el("li", `item notice ${kind || ""}`);
    li.appendChild(el("div", "caption", message));
    els.messages.appendChild(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  // A failure in words a customer understands ("Failed to fetch" is the browser's, not ours), with Retry where
  // trying again can help.
  function plainFailure(error) {
    if (error.status) return error.message; // the server's own reason: too long, too fast, signed out...
    if (!navigator.onLine) return gettext("You're offline. Your message is kept: send it again once you're connected.");
    return gettext("We couldn't reach our server. Please check your connection and try again.");
  }

  function retryable(error) {
    return !error.status || error.status >= 500 || error.status === 429;
  }

  function failureNotice(message, retry) {
    const li = notice(message, "error");
    if (!retry) return;
    const button = el("button", "secondary retry", gettext("Retry"));
    button.type = "button";
    button.addEventListener("click", () => {
      li.remove();
      retry();
    });
    li.appendChild(button);
  }

  // Answers the customer's last stored message again (the message itself is not sent twice).
  function retryLastTurn() {
    const itemId = state.lastUserItemId;
    if (!state.threadId || !itemId) return;
    run(() => client.stream("threads.retry_after_item", { thread_id: state.threadId, item_id: itemId }), null);
  }

  // --- talking to the server ------------------------------------------------------------------
  async function consume(events) {
    for await (const event of events) {
      switch (event.type) {
        case "thread.created":
          state.threadId = event.thread.id;
          sessionStorage.setItem(storageKey(), state.threadId);
          rememberThread(event.thread);
          break;
        case "thread.updated":
          rememberThread(event.thread);
          break;
        case "thread.item.added":
        case "thread.item.done":
        case "thread.item.replaced":
          upsertItem(event.item);
          if (event.type === "thread.item.done") showProgress("");
          break;
        case "thread.item.updated":
          if (event.update && event.update.type === "assistant_message.content_part.text_delta") appendDelta(event.item_id, event.update.delta);
          break;
        case "thread.item.removed": {
          const node = els.messages.querySelector(`[data-item-id="${CSS.escape(event.item_id)}"]`);
          if (node) node.remove();
          break;
        }
        case "progress_update":
          showProgress(event.text);
          break;
        case "error":
          failureNotice(event.message || gettext("Something went wrong on our side. Please try again."), event.allow_retry ? retryLastTurn : null);
          break;
        case "notice":
          notice(event.message, event.level);
          break;
        default:
          break;
      }
    }
  }

  // Turns run one after another: a click or message that arrives while a reply is still streaming waits its
  // turn instead of being dropped (buttons appear before the reply's stream has quite finished).
  let queue = Promise.resolve();

  // ``retry``: what the Retry button does if this fails in a way trying again can mend.
  function run(makeEvents, retry) {
    queue = queue.then(() => runNow(makeEvents, retry));
    return queue;
  }

  async function runNow(makeEvents, retry) {
    state.busy = true;
    els.send.disabled = true;
    try {
      await consume(makeEvents());
      return true;
    } catch (error) {
      if (error.status === 401) {
        showSignIn(gettext("Your session ended. Please sign in again."));
        return false;
      }
      if (error.status === 404) {
        sessionStorage.removeItem(storageKey());
        state.threadId = null;
      }
      failureNotice(plainFailure(error), retry && retryable(error) ? retry : null);
      return false;
    } finally {
      showProgress("");
      state.busy = false;
      els.send.disabled = false;
    }
  }

  function sendText(text) {
    const echoId = `local-${Date.now()}`;
    upsertItem({ id: echoId, type: "user_message", content: [{ text }] });
    state.pendingEcho = echoId;
    const input = client.userInput(text);
    const retry = () => {
      // Stored before the line dropped: answer it again. Not stored: send the words (still in the box) again.
      if (state.pendingEcho !== echoId && state.lastUserItemId) return retryLastTurn();
      const words = els.input.value.trim() || text;
      els.input.value = "";
      sendText(words);
    };
    return run(
      () =>
        state.threadId
          ? client.stream("threads.add_user_message", { thread_id: state.threadId, input })
          : client.stream("threads.create", { input }),
      retry,
    ).then((sent) => {
      // Not stored (offline, refused as too fast or too long): the words go back in the box, not lost.
      if (sent || state.pendingEcho !== echoId) return;
      const echo = els.messages.querySelector(`[data-item-id="${CSS.escape(echoId)}"]`);
      if (echo) echo.remove();
      state.items.delete(echoId);
      state.pendingEcho = null;
      if (!els.input.value) els.input.value = text;
    });
  }

  function runAction(item, action, button) {
    const card = button.closest(".card");
    if (card) card.querySelectorAll("button").forEach((b) => (b.disabled = true));
    button.classList.add("chosen");
    return run(
      () => client.stream("threads.custom_action", { thread_id: state.threadId, item_id: item.id, action }),
      () => runAction(item, action, button),
    ).then((sent) => {
      if (sent || !card) return; // refused: the card's buttons work again
      card.querySelectorAll("button").forEach((b) => (b.disabled = false));
      button.classList.remove("chosen");
    });
  }

  // Opens one of the customer's conversations with its whole history.
  async function openThread(threadId) {
    try {
      const thread = await client.request("threads.get_by_id", { thread_id: threadId });
      state.threadId = thread.id;
      sessionStorage.setItem(storageKey(), thread.id);
      const items = (thread.items && thread.items.data) || [];
      // get_by_id carries the first page only; long conversations continue through items.list.
      let page = thread.items || {};
      while (page.has_more && page.after) {
        page = await client.request("items.list", { thread_id: thread.id, after: page.after, limit: 50, order: "asc" });
        items.push(...(page.data || []));
      }
      items.forEach((item, index) => {
        // Only the newest widget still takes clicks; earlier ones are the record of what was chosen.
        item.answered = items.slice(index + 1).some((later) => later.type !== "end_of_turn");
        upsertItem(item);
      });
      return true;
    } catch (error) {
      if (sessionStorage.getItem(storageKey()) === threadId) sessionStorage.removeItem(storageKey());
      return false;
    }
  }

  // --- the customer's conversations ---------------------------------------------------------------
  // Dates as the customer's browser writes them ("26 Nov" in Britain, "Nov 26" in the US).
  function shortDate(iso) {
    const date = new Date(iso);
    const options = { day: "numeric", month: "short" };
    if (date.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
    return date.toLocaleDateString(navigator.language || undefined, options);
  }

  function rememberThread(thread) {
    const known = state.threads.find((each) => each.id === thread.id);
    if (known) Object.assign(known, thread);
    else state.threads.unshift(thread);
    renderThreads();
  }

  async function loadThreads() {
    const page = await client.request("threads.list", { limit: 50, order: "desc" });
    state.threads = page.data || [];
    renderThreads();
  }

  function renderThreads() {
    els.threadList.textContent = "";
    $("threads-empty").hidden = state.threads.length > 0;
    for (const thread of state.threads) {
      const li = el("li");
      const button = el("button", "thread-row");
      button.type = "button";
      button.dataset.thread = thread.id;
      if (thread.id === state.threadId) button.setAttribute("aria-current", "true");
      const title = thread.title || format(gettext("Conversation of %(date)s"), { date: shortDate(thread.created_at) });
      button.append(el("span", "thread-title", title), el("span", "caption", shortDate(thread.created_at)));
      button.addEventListener("click", () => switchTo(thread.id));
      li.appendChild(button);
      els.threadList.appendChild(li);
    }
  }

  function clearTranscript() {
    els.messages.textContent = "";
    state.items.clear();
    state.threadId = null;
    state.lastUserItemId = null;
  }

  function welcome() {
    const li = el("li", "item welcome");
    li.appendChild(el("div", "bubble assistant", gettext("Hi! I can help you return an item, check on a return, or answer policy questions.")));
    const row = el("div", "row quick");
    // What the buttons send stays in the words the assistant reads (English); their labels are the customer's.
    for (const [label, text] of [[gettext("Start a return"), "I want to return some items"], [gettext("Where is my return?"), "Where is my return?"]]) {
      const button = el("button", "secondary", label);
      button.type = "button";
      button.addEventListener("click", () => sendText(text));
      row.appendChild(button);
    }
    li.appendChild(row);
    els.messages.appendChild(li);
  }

  function showThreads(open) {
    els.threads.hidden = !open;
    els.chat.hidden = open;
    if (open) {
      renderThreads();
      loadThreads().catch(() => {}); // the list as it is now, in case another tab started one
      $("new-conversation").focus();
    } else {
      els.input.focus();
    }
  }

  // Waits for a turn in progress, so its events never land in the conversation opened next.
  function switchTo(threadId) {
    showThreads(false);
    queue = queue.then(async () => {
      clearTranscript();
      if (!(await openThread(threadId))) {
        welcome();
        notice(gettext("That conversation could not be opened."), "error");
      }
    });
    return queue;
  }

  function newConversation() {
    showThreads(false);
    queue = queue.then(() => {
      clearTranscript();
      sessionStorage.removeItem(storageKey());
      welcome();
    });
    return queue;
  }

  // --- live updates -------------------------------------------------------------------------
  // Staff replies and decisions arrive on a websocket; after a drop it reconnects and reloads the thread,
  // so nothing pushed while it was away is lost.
  function connectUpdates() {
    keepLive("/ws/chat/", {
      onOpen: (_, isReconnect) => {
        if (isReconnect && state.threadId) showChat();
      },
      onMessage: (data) => {
        if (data.type === "thread.item" && data.thread_id === state.threadId) upsertItem(data.item);
      },
      onClose: (event) => !(event.code === 4401 || els.chat.hidden), // signed out: nothing to listen for
    });
  }

  // --- screens --------------------------------------------------------------------------------
  function showSignIn(message) {
    els.chat.hidden = true;
    els.signOut.hidden = true;
    els.signin.hidden = false;
    els.signinError.hidden = !message;
    els.signinError.textContent = message || "";
    $("email").focus();
  }

  // With a domain key the official ChatKit web component talks to the same /chatkit endpoint; when its script
  // cannot be loaded (offline, blocked) within a few seconds, our own renderer carries on.
  async function officialChatKit() {
    const domainKey = document.body.dataset.chatkitDomainKey;
    if (!domainKey) return null;
    const defined = customElements.whenDefined("openai-chatkit").then(() => true);
    const gaveUp = new Promise((resolve) => setTimeout(() => resolve(false), 4000));
    if (!(await Promise.race([defined, gaveUp]))) return null;
    const element = $("official-chatkit");
    element.setOptions({
      api: {
        url: "/chatkit",
        domainKey,
        fetch: (url, options) =>
          fetch(url, { ...options, credentials: "same-origin", headers: { ...options.headers, "X-CSRFToken": client.csrfToken() } }),
      },
    });
    return element;
  }

  async function showChat() {
    const official = await officialChatKit();
    if (official) {
      els.signin.hidden = true;
      els.signOut.hidden = false;
      official.hidden = false;
      return;
    }
    els.signin.hidden = true;
    els.threads.hidden = true;
    els.chat.hidden = false;
    els.signOut.hidden = false;
    // Signing in again, in another tab or on another device, continues the latest conversation: the one this
    // tab had open if it still exists, else the newest. In the queue, so what the customer does meanwhile
    // (send, New conversation) happens after it, not under it.
    queue = queue.then(async () => {
      clearTranscript();
      showProgress(gettext("Loading your conversation…"));
      await loadThreads().catch(() => {});
      const remembered = sessionStorage.getItem(storageKey());
      const candidates = [remembered, ...state.threads.map((thread) => thread.id)].filter(Boolean);
      let opened = false;
      for (const threadId of [...new Set(candidates)].slice(0, 2)) {
        if ((opened = await openThread(threadId))) break;
      }
      showProgress("");
      if (!opened) welcome();
      renderThreads();
      els.chat.dataset.loaded = "true";
    });
    els.input.focus();
    return queue;
  }

  els.signinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("email").value.trim();
    const order = $("order").value.trim();
    if (!email || !order) return showSignIn(gettext("Please enter both your email and your order number."));
    try {
      const session = await client.signIn(email, order);
      state.customerId = session.customer_id;
      sessionStorage.setItem("returns.customer", state.customerId);
      await showChat();
      connectUpdates();
    } catch (error) {
      showSignIn(error.message);
    }
  });

  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = els.input.value.trim();
    if (!text) return;
    els.input.value = "";
    sendText(text);
  });

  els.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      els.composer.requestSubmit();
    }
  });

  $("threads-open").addEventListener("click", () => showThreads(true));
  $("threads-close").addEventListener("click", () => showThreads(false));
  $("new-conversation").addEventListener("click", newConversation);
  $("start-new").addEventListener("click", newConversation);
  $("your-returns").addEventListener("click", () => sendText("Show my returns"));

  els.signOut.addEventListener("click", async () => {
    sessionStorage.clear();
    await client.postJSON("/chat/signout", {});
    window.location.reload();
  });

  state.customerId = sessionStorage.getItem("returns.customer");
  if (state.customerId) showChat().then(() => connectUpdates());
  else showSignIn("");
})();
