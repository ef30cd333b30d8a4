"""The few GitHub REST API calls the action's cost-diff comment needs, over urllib.

Why urllib: the action installs the plugin into the user's interpreter, and a
comment on a pull request is no reason to add an HTTP library to it.

What the calls are: the pull request from the event payload, the newest base
branch report among the repository's artifacts, that artifact's zip, and one
comment on the pull request found again by a hidden marker and edited, so a
pull request gets one comment that follows its pushes, not one per push.

Why it is careful about the token:

* it is sent to the API's own origin only. An artifact's zip is a 302 to a
  signed URL on a storage host; that request goes without the Authorization
  header (the storage host does not need it, and must not see it);
* no message, exception or repr holds it, and no URL carries it. Errors name
  the method, the path (never a signed URL's query, which is a credential of
  its own), the HTTP status and GitHub's ``message``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import PurePosixPath
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener

from pytest_llmbudget import __version__

API_VERSION = "2022-11-28"
USER_AGENT = f"pytest-llmbudget/{__version__}"
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
PER_PAGE = 100
# Pages read at most: 1,000 artifacts of one name, 10,000 comments on a pull request.
ARTIFACT_PAGES = 10
COMMENT_PAGES = 100
# A JSON page of the API, an artifact's zip and a report inside it are read up
# to these sizes and no further: a huge or zip-bomb artifact is an error, not
# a runner out of memory.
PAGE_LIMIT = 16 * 1024 * 1024
ZIP_LIMIT = 64 * 1024 * 1024
MEMBER_LIMIT = 128 * 1024 * 1024
REDIRECTS = 3
TIMEOUT_S = 30.0


class GitHubError(Exception):
    """A call that failed; the message names it (never the token)."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method, self.path, self.status, self.message = method, path, status, message
        where = f"{method} {path}"
        super().__init__(
            f"{where}: HTTP {status}: {message}" if status is not None else f"{where}: {message}"
        )

    @property
    def forbidden(self) -> bool:
        """403 or 404: what a read-only token (a fork's pull request) gets on a write."""
        return self.status in (403, 404)


class ArtifactError(Exception):
    """An artifact's zip without a usable report in it; the message says what it holds."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    base_ref: str


@dataclass(frozen=True)
class Artifact:
    id: int
    name: str
    branch: str
    head_sha: str
    created_at: str


@dataclass(frozen=True)
class Posted:
    """The comment as it is now, and whether it was made (False: an old one edited)."""

    id: int
    url: str
    created: bool


def pull_request(event_name: str, payload: Mapping[str, Any]) -> PullRequest | None:
    """The pull request of a ``pull_request``/``pull_request_target`` event; None otherwise.

    Only these two: other events that carry a ``pull_request`` (reviews,
    review comments) are not a run on the pull request's code.
    """
    if event_name not in PULL_REQUEST_EVENTS:
        return None
    pr = payload.get("pull_request")
    base = pr.get("base") if isinstance(pr, dict) else None
    number = pr.get("number") if isinstance(pr, dict) else None
    ref = base.get("ref") if isinstance(base, dict) else None
    if not isinstance(number, int) or not isinstance(ref, str) or not ref:
        raise ValueError(f"a {event_name} event without pull_request.number and base.ref")
    return PullRequest(number, ref)


def read_event(path: str) -> dict[str, Any]:
    """The event payload the runner wrote at ``$GITHUB_EVENT_PATH``."""
    with open(path, encoding="utf-8") as stream:
        payload = json.load(stream)
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: the event payload is not a JSON object")
    return payload


class _NoRedirects(HTTPRedirectHandler):
    """Hand every redirect back as an HTTPError: following one is our decision."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _origin(url: str) -> tuple[str, str]:
    """Scheme and host[:port], without user info: where a request goes."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower()


def _shown(url: str) -> str:
    """A URL fit for a message: no query (a signed URL's signature is there), no user info."""
    scheme, host = _origin(url)
    return f"{scheme}://{host}{urlsplit(url).path}"


def _read(response: Any, limit: int, method: str, path: str) -> bytes:
    data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise GitHubError(method, path, None, f"the answer is larger than {limit} bytes")
    return data


def _github_message(error: HTTPError) -> str:
    """GitHub's ``message`` from an error answer, or the reason phrase."""
    try:
        document = json.loads(error.read(64 * 1024) or b"null")
    except (OSError, ValueError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])
    return str(error.reason or "no message")


class Client:
    """One repository's API, with a token that goes nowhere else."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        token = token.strip()
        if not token or not all(" " < ch < "\x7f" for ch in token):
            # http.client would quote a bad header value, token and all, in its error.
            raise ValueError("the GitHub token is empty or not a token (spaces, line breaks)")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.__token = token
        self._opener = build_opener(_NoRedirects)

    def __repr__(self) -> str:
        return f"Client(api_url={self.api_url!r}, repository={self.repository!r})"

    # -- transport -------------------------------------------------------------------

    def _send(
        self, method: str, url: str, shown: str, body: bytes | None, limit: int, auth: bool
    ) -> tuple[int, str | None, bytes]:
        """The status, a redirect's Location, and the body read up to ``limit``."""
        headers = {"Accept": "application/vnd.github+json", "User-Agent": USER_AGENT}
        if auth:
            headers["Authorization"] = f"Bearer {self.__token}"
            headers["X-GitHub-Api-Version"] = API_VERSION
        if body is not None:
            headers["Content-Type"] = "application/json"
        request = Request(url, data=body, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=TIMEOUT_S) as response:
                return response.status, None, _read(response, limit, method, shown)
        except HTTPError as error:
            try:
                if 300 <= error.code < 400:
                    return error.code, error.headers.get("Location"), b""
                raise GitHubError(method, shown, error.code, _github_message(error)) from None
            finally:
                error.close()
        except (URLError, OSError, HTTPException) as error:
            reason = error.reason if isinstance(error, URLError) else error
            raise GitHubError(method, shown, None, f"no answer ({reason})") from None
        except ValueError:  # its message may quote the request; ours names it
            raise GitHubError(method, shown, None, "not a URL that can be requested") from None

    def _api(self, method: str, path: str, document: object = None) -> Any:
        """A JSON call to the repository's API at ``path`` (``/repos/...``)."""
        body = None if document is None else json.dumps(document).encode()
        status, _, data = self._send(method, self.api_url + path, path, body, PAGE_LIMIT, auth=True)
        if status >= 300:
            raise GitHubError(method, path, status, "an unexpected redirect")
        try:
            return json.loads(data)
        except ValueError:
            raise GitHubError(method, path, status, "the answer is not JSON") from None

    def _pages(
        self, path: str, query: dict[str, str], key: str | None, pages: int
    ) -> Iterator[list[Any]]:
        """A listing, page by page, until a page is not full."""
        for page in range(1, pages + 1):
            full = f"{path}?{urlencode({**query, 'per_page': PER_PAGE, 'page': page})}"
            document = self._api("GET", full)
            items = document.get(key) if key and isinstance(document, dict) else document
            if not isinstance(items, list):
                raise GitHubError("GET", full, 200, "the answer is not a listing")
            yield items
            if len(items) < PER_PAGE:
                return

    # -- artifacts -------------------------------------------------------------------

    def newest_artifact(self, name: str, branch: str) -> Artifact | None:
        """The newest unexpired artifact called ``name`` made by a run on ``branch``.

        The listing is newest first, so the first page with a match holds the
        newest; the rest is not read. A run on a fork's branch of the same
        name does not count: its head repository is not this one.
        """
        path = f"/repos/{self.repository}/actions/artifacts"
        for page in self._pages(path, {"name": name}, "artifacts", ARTIFACT_PAGES):
            found = [a for a in (_artifact(item, name, branch) for item in page) if a is not None]
            if found:
                return max(found, key=lambda artifact: artifact.created_at)
        return None

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip. The API answers with a redirect to storage, followed here."""
        path = f"/repos/{self.repository}/actions/artifacts/{artifact_id}/zip"
        url, shown = self.api_url + path, path
        home = _origin(self.api_url)
        for _ in range(REDIRECTS + 1):
            status, location, data = self._send(
                "GET", url, shown, None, ZIP_LIMIT, auth=_origin(url) == home
            )
            if status < 300:
                return data
            if not location:
                raise GitHubError("GET", shown, status, "a redirect without a Location")
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise GitHubError("GET", shown, status, "a redirect to a URL that is not HTTP")
            shown = _shown(url)
        raise GitHubError("GET", path, None, f"more than {REDIRECTS} redirects")

    # -- the sticky comment ----------------------------------------------------------

    def upsert_comment(self, number: int, marker: str, body: str) -> Posted:
        """Edit our comment on the pull request (the one starting with ``marker``), or make it.

        Starting with, not containing: a reply that quotes our comment holds
        the marker too, and is someone else's to keep.
        """
        path = f"/repos/{self.repository}/issues/{number}/comments"
        for page in self._pages(path, {}, None, COMMENT_PAGES):
            for item in page:
                text = item.get("body") if isinstance(item, dict) else None
                if isinstance(text, str) and text.lstrip().startswith(marker):
                    edit = f"/repos/{self.repository}/issues/comments/{item['id']}"
                    return _posted(self._api("PATCH", edit, {"body": body}), "PATCH", edit)
        return _posted(self._api("POST", path, {"body": body}), "POST", path)


def _artifact(item: object, name: str, branch: str) -> Artifact | None:
    if not isinstance(item, dict) or item.get("name") != name or item.get("expired") is not False:
        return None
    run = item.get("workflow_run")
    if not isinstance(run, dict) or run.get("head_branch") != branch:
        return None
    home, head = run.get("repository_id"), run.get("head_repository_id")
    if home is not None and head is not None and home != head:
        return None
    if not isinstance(item.get("id"), int):
        return None
    return Artifact(
        id=item["id"],
        name=name,
        branch=branch,
        head_sha=str(run.get("head_sha") or ""),
        created_at=str(item.get("created_at") or ""),
    )


def _posted(document: object, method: str, path: str) -> Posted:
    if not isinstance(document, dict) or not isinstance(document.get("id"), int):
        raise GitHubError(method, path, None, "the answer holds no comment id")
    return Posted(document["id"], str(document.get("html_url") or ""), created=method == "POST")


def report_from_zip(data: bytes, report_name: str, limit: int = MEMBER_LIMIT) -> bytes:
    """The report in an artifact's zip: the file named like ``report_name``, or its one JSON.

    Sizes are checked as read, not as the zip declares them: a zip can lie.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ArtifactError("the artifact is not a zip file") from None
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        wanted = PurePosixPath(report_name).name
        named = [info for info in files if PurePosixPath(info.filename).name == wanted]
        json_files = [info for info in files if info.filename.lower().endswith(".json")]
        chosen = named or json_files
        if len(chosen) != 1:
            listing = ", ".join(info.filename for info in files[:10]) or "nothing"
            raise ArtifactError(
                f"the artifact holds {listing}; expected one JSON file or one named {wanted}"
            )
        (member,) = chosen
        if member.file_size > limit:
            raise ArtifactError(f"{member.filename} is larger than {limit} bytes")
        try:
            with archive.open(member) as stream:
                content = stream.read(limit + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as error:
            raise ArtifactError(f"{member.filename} cannot be unzipped ({error})") from None
        if len(content) > limit:
            raise ArtifactError(f"{member.filename} is larger than {limit} bytes")
        return content
