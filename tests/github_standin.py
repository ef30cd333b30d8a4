"""A loopback stand-in for the part of GitHub's REST API the cost-diff comment uses.

Why a real server: the comment step talks HTTP with urllib, follows a
redirect by itself and decides which host sees the token, so the tests need
real requests on real sockets to see what was sent where.

Two servers, both on 127.0.0.1 in daemon threads:

* the API, reached as ``http://127.0.0.1:PORT``: artifact listing by name
  (paginated with ``per_page`` and ``page``, newest first, as GitHub lists
  them), an artifact's zip as a 302 to storage, the comments of an issue
  (paginated), creating and editing a comment. Every call needs the token as
  ``Authorization: Bearer ...``, or it gets GitHub's 401;
* storage, reached as ``http://localhost:PORT``, another host name for the
  same machine, as GitHub's signed artifact URLs point at another host. Like
  Azure's blob storage it refuses a request that carries an Authorization
  header it did not ask for.

Every request to either is recorded, headers included, for the tests to
assert on, the way tests/standin.py records the providers' requests (and
served the way it serves them). The answers are shaped like GitHub's
documented ones, trimmed to the fields that matter.
"""

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from standin import BackgroundServer, RecordedRequest, read_request, serve_in_background

__all__ = ["GitHubStandIn", "Seen"]

REPOSITORY_ID = 1296269
FORK_ID = 7654321
SIGNATURE = "sv=2025-01-05&sig=standinSIGNATUREdoNotPrint"
"""The query of the signed storage URL: a credential of its own, never to be printed."""


@dataclass(frozen=True)
class Seen(RecordedRequest):
    """One request as a server received it: recorded as the provider stand-in records
    requests (the same fields and ``json()``), plus which of the two servers took it."""

    server: str
    """``api`` or ``storage``."""


@dataclass
class _State:
    token: str
    repository: str
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    zips: dict[int, bytes] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)


class GitHubStandIn(BackgroundServer):
    """The API and its storage host. Use it as a context manager."""

    def __init__(self, token: str, repository: str = "octo-org/octo-repo") -> None:
        self._state = _State(token=token, repository=repository)
        self._servers: list[ThreadingHTTPServer] = []
        self.api_url = ""
        self.storage_url = ""

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        if self._servers:
            return self
        api = self._serve(_ApiHandler)
        storage = self._serve(_StorageHandler)
        self.api_url = f"http://127.0.0.1:{api.server_address[1]}"
        self.storage_url = f"http://localhost:{storage.server_address[1]}"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def _serve(self, handler: type["_Handler"]) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.stand_in = self  # type: ignore[attr-defined]
        serve_in_background(server, f"github-{handler.server_name}")
        self._servers.append(server)
        return server

    # -- what it holds ---------------------------------------------------------------

    @property
    def repository(self) -> str:
        return self._state.repository

    def add_artifact(
        self,
        *,
        branch: str,
        zip_bytes: bytes = b"",
        name: str = "llm-report",
        expired: bool = False,
        from_fork: bool = False,
        head_sha: str = "",
    ) -> int:
        """An artifact newer than all before it (the listing is newest first); its id."""
        state = self._state
        with state.lock:
            state.next_id += 1
            number = state.next_id
            created = f"2025-06-{1 + number % 28:02d}T{number % 24:02d}:00:00Z"
            state.artifacts.insert(
                0,
                {
                    "id": number,
                    "node_id": f"MDg6QXJ0aWZhY3Qx{number}",
                    "name": name,
                    "size_in_bytes": len(zip_bytes),
                    "url": f"{self.api_url}/repos/{state.repository}/actions/artifacts/{number}",
                    "archive_download_url": (
                        f"{self.api_url}/repos/{state.repository}/actions/artifacts/{number}/zip"
                    ),
                    "expired": expired,
                    "created_at": created,
                    "updated_at": created,
                    "expires_at": "2025-09-01T00:00:00Z",
                    "workflow_run": {
                        "id": 2000 + number,
                        "repository_id": REPOSITORY_ID,
                        "head_repository_id": FORK_ID if from_fork else REPOSITORY_ID,
                        "head_branch": branch,
                        "head_sha": head_sha or f"{number:040x}",
                    },
                },
            )
            state.zips[number] = zip_bytes
        return number

    def add_comment(self, number: int, body: str, login: str = "octocat") -> dict[str, Any]:
        state = self._state
        with state.lock:
            return _new_comment(state, number, body, login)

    def comments(self, number: int) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(item) for item in self._state.comments.get(number, [])]

    def refuse(self, method: str, status: int, message: str) -> None:
        """Answer every API request of ``method`` with ``status`` and GitHub's ``message``."""
        self._state.refused[method] = (status, message)

    @property
    def seen(self) -> list[Seen]:
        with self._state.lock:
            return list(self._state.seen)


def _new_comment(state: _State, number: int, body: str, login: str) -> dict[str, Any]:
    state.next_id += 1
    comment = {
        "id": state.next_id,
        "node_id": f"IC_kwDOstandin{state.next_id}",
        "html_url": (
            f"https://github.com/{state.repository}/pull/{number}#issuecomment-{state.next_id}"
        ),
        "body": body,
        "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
        "created_at": "2025-06-30T12:00:00Z",
        "updated_at": "2025-06-30T12:00:00Z",
    }
    state.comments.setdefault(number, []).append(comment)
    return comment


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name = ""

    @property
    def stand_in(self) -> GitHubStandIn:
        found: GitHubStandIn = self.server.stand_in  # type: ignore[attr-defined]
        return found

    @property
    def state(self) -> _State:
        return self.stand_in._state

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on captured output."""

    def _record(self) -> tuple[str, dict[str, list[str]], bytes]:
        request = read_request(self)
        seen = Seen(request.method, request.path, request.headers, request.body, self.server_name)
        with self.state.lock:
            self.state.seen.append(seen)
        parts = urlsplit(self.path)
        return parts.path, parse_qs(parts.query), request.body

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: object) -> None:
        self._send(status, json.dumps(document).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(
            status,
            {
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
                "status": str(status),
            },
        )


def _page(items: list[dict[str, Any]], query: dict[str, list[str]]) -> list[dict[str, Any]]:
    per_page = min(int(query.get("per_page", ["30"])[0]), 100)
    page = int(query.get("page", ["1"])[0])
    return items[(page - 1) * per_page : page * per_page]


class _ApiHandler(_Handler):
    server_name = "api"

    def _route(self) -> None:
        path, query, body = self._record()
        state = self.state
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._error(401, "Bad credentials")
            return
        if self.command in state.refused:
            self._error(*state.refused[self.command])
            return
        prefix = f"/repos/{state.repository}"
        if not path.startswith(prefix + "/"):
            self._error(404, "Not Found")
            return
        rest = path[len(prefix) :]
        if self.command == "GET" and rest == "/actions/artifacts":
            self._artifacts(query)
        elif self.command == "GET" and (
            match := re.fullmatch(r"/actions/artifacts/(\d+)/zip", rest)
        ):
            self._download(int(match.group(1)))
        elif match := re.fullmatch(r"/issues/(\d+)/comments", rest):
            self._issue_comments(int(match.group(1)), query, body)
        elif self.command == "PATCH" and (match := re.fullmatch(r"/issues/comments/(\d+)", rest)):
            self._edit(int(match.group(1)), body)
        else:
            self._error(404, "Not Found")

    # http.server calls do_<METHOD>: the API answers these three through one router,
    # any other method gets the base class's 501.
    do_GET = do_POST = do_PATCH = _route  # noqa: N815

    def _artifacts(self, query: dict[str, list[str]]) -> None:
        with self.state.lock:
            named = [
                a for a in self.state.artifacts if a["name"] == query.get("name", [a["name"]])[0]
            ]
        self._json(200, {"total_count": len(named), "artifacts": _page(named, query)})

    def _download(self, number: int) -> None:
        if number not in self.state.zips:
            self._error(404, "Not Found")
            return
        location = f"{self.stand_in.storage_url}/artifacts/{number}.zip?{SIGNATURE}"
        self._send(302, b"", headers={"Location": location})

    def _issue_comments(self, number: int, query: dict[str, list[str]], body: bytes) -> None:
        with self.state.lock:
            if self.command == "GET":
                listing = _page(self.state.comments.get(number, []), query)
                self._json(200, listing)
                return
            if self.command != "POST":
                self._error(404, "Not Found")
                return
            comment = _new_comment(
                self.state, number, json.loads(body)["body"], "github-actions[bot]"
            )
        self._json(201, comment)

    def _edit(self, number: int, body: bytes) -> None:
        with self.state.lock:
            every = [c for comments in self.state.comments.values() for c in comments]
            found = [comment for comment in every if comment["id"] == number]
            for comment in found:
                comment["body"] = json.loads(body)["body"]
                comment["updated_at"] = "2025-07-01T12:00:00Z"
        if found:
            self._json(200, found[0])
        else:
            self._error(404, "Not Found")


class _StorageHandler(_Handler):
    server_name = "storage"

    def do_GET(self) -> None:
        path, query, _ = self._record()
        if "Authorization" in self.headers:
            message = b"<Error><Code>InvalidAuthenticationInfo</Code></Error>"
            self._send(400, message, "application/xml")
            return
        match = re.fullmatch(r"/artifacts/(\d+)\.zip", path)
        data = self.state.zips.get(int(match.group(1))) if match else None
        if data is None or query.get("sig") != [SIGNATURE.rsplit("sig=", 1)[1]]:
            self._send(403, b"<Error><Code>AuthenticationFailed</Code></Error>", "application/xml")
            return
        self._send(200, data, "application/zip")
