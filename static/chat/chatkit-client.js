// A small client of the ChatKit protocol: JSON requests to /chatkit, Server-Sent Events read as they arrive.
// No dependencies and no CDN, so the page works offline. Exposes window.ChatKitClient.
(function () {
  "use strict";

  const csrfToken = window.csrfToken; // static/shared/sockets.js

  async function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  }

  // Splits an SSE byte stream into events; each "data:" payload is one JSON ThreadStreamEvent.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  }

  class RequestError extends Error {
    constructor(status, body) {
      super((body && body.message) || `Request failed (${status})`);
      this.status = status;
      this.body = body;
    }
  }

  async function failIfBad(response) {
    if (response.ok) return response;
    let body = null;
    try {
      body = await response.json();
    } catch (ignored) {
      body = null;
    }
    throw new RequestError(response.status, body);
  }

  const ChatKitClient = {
    RequestError,
    csrfToken,
    postJSON,

    async signIn(email, orderId) {
      const response = await postJSON("/chat/session", { email, order_id: orderId });
      return (await failIfBad(response)).json();
    },

    // Streaming requests: yields each event as the server sends it.
    async *stream(type, params) {
      const response = await failIfBad(await postJSON("/chatkit", { type, params, metadata: {} }));
      yield* readEvents(response);
    },

    async request(type, params) {
      const response = await failIfBad(await postJSON("/chatkit", { type, params, metadata: {} }));
      return response.json();
    },

    userInput(text) {
      return { content: [{ type: "input_text", text }], attachments: [], inference_options: {} };
    },
  };

  window.ChatKitClient = ChatKitClient;
})();
