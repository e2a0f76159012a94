// The page's live socket: on the same host, and on the websocket port when websockets have Daphne processes of
// their own (the page says which in <meta name="websocket-port">; empty means the page's own port).
function liveSocketURL(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const meta = document.querySelector('meta[name="websocket-port"]');
  const port = meta ? meta.content : "";
  return `${scheme}://${port ? `${location.hostname}:${port}` : location.host}${path}`;
}

// A live socket that comes back after a drop, waiting 0.5 s, then twice as long each time up to 15 s; both pages
// use it. onOpen(socket, isReconnect) catches up on what was missed; onClose(event) returning false stops it
// (signed out). document.body.dataset.live says "on" or "off" for the page and its tests.
function keepLive(path, { onOpen, onMessage, onClose }) {
  const live = { socket: null };
  let retryMs = 500;
  function open(isReconnect) {
    const socket = new WebSocket(liveSocketURL(path));
    live.socket = socket;
    socket.addEventListener("open", () => {
      retryMs = 500;
      document.body.dataset.live = "on";
      if (onOpen) onOpen(socket, isReconnect);
    });
    socket.addEventListener("message", (message) => onMessage(JSON.parse(message.data)));
    socket.addEventListener("close", (event) => {
      document.body.dataset.live = "off";
      if (onClose && onClose(event) === false) return;
      setTimeout(() => open(true), retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    });
  }
  open(false);
  return live;
}

// The CSRF token Django set in its cookie, for every POST both pages make.
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}
