// The page's live socket: on the same host, and on the websocket port when websockets have Daphne processes of
// their own (the page says which in <meta name="websocket-port">; empty means the page's own port).
function liveSocketURL(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const meta = document.querySelector('meta[name="websocket-port"]');
  const port = meta ? meta.content : "";
  return `${scheme}://${port ? `${location.hostname}:${port}` : location.host}${path}`;
}
