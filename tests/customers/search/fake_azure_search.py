"""A small fake of the Azure AI Search REST API: just what our AzurePolicySearch calls.

Azure AI Search cannot run on these machines, so contract tests run the real ``azure-search-documents`` SDK
against this server. It checks the api-key header and api-version, keeps indexes and documents in memory,
and ranks by counting query terms (not Azure's ranking; the contract is the wire format).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

INDEX_PATH = re.compile(r"^/indexes\('([^']+)'\)$")
DOCS_INDEX_PATH = re.compile(r"^/indexes\('([^']+)'\)/docs/search\.index$")
SEARCH_PATH = re.compile(r"^/indexes\('([^']+)'\)/docs/search\.post\.search$")


class FakeAzureSearch:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.indexes: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                if fake.fail_with:
                    return self._reply(fake.fail_with, {"error": {"code": "Fake", "message": "failing on purpose"}})
                if self.headers.get("api-key") != fake.api_key:
                    return self._reply(403, {"error": {"code": "Forbidden", "message": "bad api-key"}})
                if "api-version" not in parse_qs(url.query):
                    return self._reply(400, {"error": {"code": "MissingApiVersion", "message": "api-version required"}})
                if (match := INDEX_PATH.match(url.path)) and self.command == "PUT":
                    fake.indexes[match.group(1)] = body
                    fake.documents.setdefault(match.group(1), {})
                    return self._reply(201, body)
                if (match := DOCS_INDEX_PATH.match(url.path)) and self.command == "POST":
                    docs = fake.documents.setdefault(match.group(1), {})
                    results = []
                    for action in body.get("value", []):
                        doc = {k: v for k, v in action.items() if not k.startswith("@")}
                        docs[doc["id"]] = doc
                        results.append({"key": doc["id"], "status": True, "errorMessage": None, "statusCode": 201})
                    return self._reply(200, {"value": results})
                if (match := SEARCH_PATH.match(url.path)) and self.command == "POST":
                    return self._reply(200, {"value": fake.rank(match.group(1), body)})
                return self._reply(404, {"error": {"code": "NotFound", "message": url.path}})

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def rank(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        terms = [t for t in re.findall(r"[a-z0-9]+", str(body.get("search", "")).lower()) if len(t) > 2]
        allowed = _search_in(str(body.get("filter") or ""))
        scored = []
        for doc in self.documents.get(index, {}).values():
            if allowed is not None and doc["id"] not in allowed:
                continue
            text = (
                f"{doc.get('title', '')} {doc.get('body', '')} {doc.get('name', '')} {doc.get('category', '')}".lower()
            )
            score = sum(text.count(term) for term in terms)
            if score:
                highlights = [
                    s for s in re.split(r"(?<=\.)\s", doc.get("body", "")) if any(t in s.lower() for t in terms)
                ]
                scored.append({"@search.score": float(score), "@search.highlights": {"body": highlights[:2]}, **doc})
        scored.sort(key=lambda row: -row["@search.score"])
        return scored[: int(body.get("top") or 50)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _search_in(odata: str) -> set[str] | None:
    """The ids of a ``search.in(id, 'a,b', ',')`` filter (the only filter we send), None without one."""
    match = re.search(r"search\.in\(id, '([^']*)', ','\)", odata)
    return set(match.group(1).split(",")) if match else None
