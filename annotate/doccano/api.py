"""The Doccano 1.8.4 REST API, spoken with httpx and token auth (docs/doccano.md §2).

doccano-client 1.2.8 covers most of this, but it polls import/export jobs once a second, hides HTTP
failures behind requests exceptions and cannot pass an import encoding; one small httpx layer gives one
place that turns every failure into a clear `DoccanoError` (server down, wrong password, missing
project). Offsets are passed through untouched here: `doccano_examples` converts them.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, Iterable, Iterator

from cmner_build.errors import CmnerError

DEFAULT_TIMEOUT = 120.0
# Import/export jobs run eagerly in a local test server and take seconds on a real one.
JOB_POLL_SECONDS = 0.2
JOB_TIMEOUT = 3600.0
LIST_PAGE_SIZE = 1000


class DoccanoError(CmnerError):
    """Doccano answered with an error, or not at all."""


class DoccanoUnreachable(DoccanoError):
    """No answer from the server (down, wrong URL, network)."""


class DoccanoAuthError(DoccanoError):
    """The server rejected the login or the token."""


class DoccanoNotFound(DoccanoError):
    """A project, example or user that the store refers to is gone from the server."""


def _unreachable(url: str, error: Exception) -> DoccanoUnreachable:
    return DoccanoUnreachable(
        f"cannot reach Doccano at {url} ({type(error).__name__}): is the server running? "
        "Start a local one with `cmner-build doccano serve`, or point --url (or [doccano] url) at yours"
    )


class DoccanoAPI:
    """One authenticated session on one Doccano server. Use `DoccanoAPI.login(url, user, password)`."""

    def __init__(self, url: str, token: str | None = None, *, username: str = "", timeout: float = DEFAULT_TIMEOUT):
        import httpx

        self.url = url.rstrip("/")
        self.username = username
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self._http = httpx.Client(base_url=f"{self.url}/v1/", headers=headers, timeout=timeout)

    @classmethod
    def login(cls, url: str, username: str, password: str, *, timeout: float = DEFAULT_TIMEOUT) -> "DoccanoAPI":
        """Log in (dj-rest-auth) and keep the token. Raises DoccanoAuthError on a wrong user or password."""
        anonymous = cls(url, timeout=timeout)
        try:
            response = anonymous._send("POST", "auth/login/", json={"username": username, "password": password})
        finally:
            anonymous.close()
        if response.status_code == 400:
            raise DoccanoAuthError(
                f"Doccano at {url} rejected the login of {username!r}: wrong user name or password "
                "(the admin password comes from the variable named by [doccano] password_env)"
            )
        _raise_for_status(response, f"logging in to {url}")
        token = response.json().get("key")
        if not token:
            raise DoccanoError(f"Doccano at {url} answered the login without a token; is it Doccano 1.8?")
        return cls(url, token, username=username, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "DoccanoAPI":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any):
        import httpx

        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise DoccanoUnreachable(f"Doccano at {self.url} did not answer {method} {path} in time ({error})") from None
        except httpx.TransportError as error:
            raise _unreachable(self.url, error) from None

    def request(self, method: str, path: str, *, what: str, **kwargs: Any):
        response = self._send(method, path, **kwargs)
        if response.status_code in (401, 403) and path != "auth/login/":
            raise DoccanoAuthError(
                f"Doccano at {self.url} refused {what} for {self.username or 'this session'} "
                f"(HTTP {response.status_code}): the user needs to be a staff admin of the project"
            )
        _raise_for_status(response, what)
        return response

    def _json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        response = self.request(method, path, what=what, **kwargs)
        return response.json() if response.content else None

    def _paged(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Follow limit/offset pages with relative requests (the server's absolute `next` may name another host)."""
        offset = 0
        while True:
            page = self._json("GET", path, what=what, params={**(params or {}), "limit": LIST_PAGE_SIZE, "offset": offset})
            if isinstance(page, list):  # endpoints without pagination
                yield from page
                return
            results = page.get("results", [])
            yield from results
            offset += len(results)
            if not page.get("next") or not results:
                return

    # -- users ------------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._json("GET", "me", what="reading the current user")

    def find_user(self, username: str) -> dict[str, Any] | None:
        users = self._json("GET", "users", what=f"looking up user {username!r}", params={"q": username})
        return next((user for user in users if user.get("username") == username), None)

    def create_user(self, username: str, password: str) -> dict[str, Any]:
        response = self._send(
            "POST", "users/create", json={"username": username, "password1": password, "password2": password}
        )
        if response.status_code == 400:
            raise DoccanoError(f"Doccano refused to create user {username!r}: {_short(response.text)}")
        if response.status_code in (401, 403):
            raise DoccanoAuthError(f"only a Doccano staff admin can create users ({self.username} cannot)")
        _raise_for_status(response, f"creating user {username!r}")
        return response.json()

    # -- projects ---------------------------------------------------------------------------------

    def list_projects(self) -> list[dict[str, Any]]:
        return list(self._paged("projects", what="listing projects"))

    def get_project(self, project_id: int) -> dict[str, Any]:
        response = self._send("GET", f"projects/{project_id}")
        if response.status_code == 404:
            raise DoccanoNotFound(f"Doccano project {project_id} does not exist on {self.url}")
        _raise_for_status(response, f"reading project {project_id}")
        return response.json()

    def find_projects_by_name(self, name: str) -> list[dict[str, Any]]:
        projects = self._paged("projects", what="searching projects", params={"q": name})
        return [project for project in projects if project.get("name") == name]

    def create_project(self, name: str, project_type: str, *, description: str, guideline: str = "",
                       collaborative_annotation: bool = False, allow_overlapping: bool = False,
                       single_class_classification: bool = False, random_order: bool = False,
                       tags: Iterable[str] = ()) -> dict[str, Any]:
        payload = {
            "name": name, "description": description or name, "guideline": guideline,
            "project_type": project_type, "resourcetype": f"{project_type}Project",
            "random_order": random_order, "collaborative_annotation": collaborative_annotation,
            "single_class_classification": single_class_classification,
            "allow_overlapping": allow_overlapping, "grapheme_mode": False, "use_relation": False,
            "tags": [{"text": tag} for tag in tags],
        }
        return self._json("POST", "projects", what=f"creating project {name!r}", json=payload)

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        project = self.get_project(project_id)
        fields.setdefault("resourcetype", project["resourcetype"])
        return self._json("PATCH", f"projects/{project_id}", what=f"updating project {project_id}", json=fields)

    def delete_project(self, project_id: int) -> None:
        self.request("DELETE", f"projects/{project_id}", what=f"deleting project {project_id}")

    # -- label types ------------------------------------------------------------------------------

    def list_label_types(self, project_id: int, kind: str = "span") -> list[dict[str, Any]]:
        return self._json("GET", f"projects/{project_id}/{kind}-types", what=f"listing {kind} types")

    def create_label_type(self, project_id: int, kind: str, text: str, *, color: str, suffix_key: str | None = None,
                          text_color: str = "#ffffff") -> dict[str, Any]:
        payload = {"text": text, "background_color": color, "text_color": text_color,
                   "prefix_key": None, "suffix_key": suffix_key}
        return self._json("POST", f"projects/{project_id}/{kind}-types", what=f"creating label {text!r}", json=payload)

    # -- members ----------------------------------------------------------------------------------

    def list_roles(self) -> dict[str, int]:
        return {role["name"]: role["id"] for role in self._json("GET", "roles", what="listing roles")}

    def list_members(self, project_id: int) -> list[dict[str, Any]]:
        return self._json("GET", f"projects/{project_id}/members", what=f"listing members of project {project_id}")

    def add_member(self, project_id: int, username: str, role: str = "annotator") -> dict[str, Any]:
        """Add a user to a project (no-op when already a member with any role)."""
        for member in self.list_members(project_id):
            if member.get("username") == username:
                return member
        user = self.find_user(username)
        if user is None:
            raise DoccanoNotFound(
                f"{username!r} has no account on {self.url}; create it with `cmner-build annotate users add {username}`"
            )
        roles = self.list_roles()
        if role not in roles:
            raise DoccanoError(f"Doccano has no role {role!r} (it has {', '.join(sorted(roles))})")
        return self._json("POST", f"projects/{project_id}/members", what=f"adding {username} to project {project_id}",
                          json={"user": user["id"], "role": roles[role]})

    # -- examples ---------------------------------------------------------------------------------

    def list_examples(self, project_id: int, *, confirmed: bool | None = None) -> list[dict[str, Any]]:
        """All examples of a project, oldest first. `confirmed` filters by the calling user's confirmations."""
        params: dict[str, Any] = {}
        if confirmed is not None:
            params["confirmed"] = "true" if confirmed else "false"
        return list(self._paged(f"projects/{project_id}/examples", what=f"listing examples of project {project_id}",
                                params=params))

    def delete_examples(self, project_id: int, example_ids: list[int]) -> None:
        if example_ids:  # an empty list would delete every example of the project
            self.request("DELETE", f"projects/{project_id}/examples", what="deleting duplicate examples",
                         json={"ids": example_ids})

    def update_example_meta(self, project_id: int, example_id: int, meta: dict[str, Any]) -> dict[str, Any]:
        return self._json("PATCH", f"projects/{project_id}/examples/{example_id}", what=f"updating example {example_id}",
                          json={"meta": meta})

    def upload_jsonl(self, project_id: int, records: list[dict[str, Any]], *, task: str = "SequenceLabeling",
                     file_name: str = "posts.jsonl") -> list[dict[str, Any]]:
        """Import records in one JSONL file (bulk, one job) as the logged-in user, who owns any pre-filled
        `label` spans. Returns the per-line errors the job reported."""
        return self._import(project_id, [(file_name, jsonl_import_bytes(records))], task=task, file_format="JSONL",
                            options={"column_data": "text", "column_label": "label", "encoding": "utf_8"})

    def upload_files(self, project_id: int, files: list[tuple[str, bytes]], *, task: str = "ImageClassification",
                     file_format: str = "ImageFile") -> list[dict[str, Any]]:
        """Import binary files (images): one example per file, `upload_name` = the given file name."""
        return self._import(project_id, files, task=task, file_format=file_format, options={})

    def _import(self, project_id: int, files: list[tuple[str, bytes]], *, task: str, file_format: str,
                options: dict[str, Any]) -> list[dict[str, Any]]:
        upload_ids = []
        for name, content in files:
            response = self.request("POST", "fp/process/", what=f"uploading {name}",
                                    files={"filepond": (name, io.BytesIO(content))}, headers={"Accept": "*/*"})
            upload_ids.append(response.text.strip())
        started = self._json("POST", f"projects/{project_id}/upload", what=f"importing into project {project_id}",
                             json={"uploadIds": upload_ids, "task": task, "format": file_format, **options})
        result = self.wait_for_job(started["task_id"], what=f"the import into project {project_id}")
        return list((result or {}).get("error") or [])

    def wait_for_job(self, task_id: str, *, what: str) -> Any:
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            status = self._json("GET", f"tasks/status/{task_id}", what=f"waiting for {what}")
            if status.get("error"):
                raise DoccanoError(f"{what} failed on the server: {_short(json.dumps(status['error']))}")
            if status.get("ready"):
                return status.get("result")
            if time.monotonic() > deadline:
                raise DoccanoError(f"{what} did not finish within {JOB_TIMEOUT:.0f} s")
            time.sleep(JOB_POLL_SECONDS)

    # -- export -----------------------------------------------------------------------------------

    def export_zip(self, project_id: int, *, confirmed_only: bool = False, file_format: str = "JSONL") -> bytes:
        """The project's export as zip bytes: one `<username>.jsonl` per member in non-collaborative mode.
        confirmed_only: each user's file holds only the examples that user marked done."""
        started = self._json("POST", f"projects/{project_id}/download", what=f"exporting project {project_id}",
                             json={"format": file_format, "exportApproved": confirmed_only})
        what = f"the export of project {project_id}"
        self.wait_for_job(started["task_id"], what=what)
        response = self.request("GET", f"projects/{project_id}/download", what=f"downloading {what}",
                                params={"taskId": started["task_id"]}, headers={"Accept": "*/*"})
        if not response.content.startswith(b"PK"):
            raise DoccanoError(f"{what} did not return a zip: {_short(response.text)}")
        return response.content

    # -- acting as an annotator (tests, demos, pre-filling one's own suggestions) ------------------

    def create_span(self, project_id: int, example_id: int, start_offset: int, end_offset: int, label_id: int) -> dict:
        """Add a span as the logged-in user; offsets are Doccano's (UTF-16)."""
        return self._json("POST", f"projects/{project_id}/examples/{example_id}/spans", what="adding a span",
                          json={"label": label_id, "start_offset": start_offset, "end_offset": end_offset})

    def list_spans(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """The logged-in user's spans of an example (in non-collaborative mode nobody else's); UTF-16 offsets."""
        return list(self._paged(f"projects/{project_id}/examples/{example_id}/spans", what="listing spans"))

    def create_category(self, project_id: int, example_id: int, label_id: int) -> dict:
        return self._json("POST", f"projects/{project_id}/examples/{example_id}/categories", what="adding a category",
                          json={"label": label_id})

    def is_confirmed(self, project_id: int, example_id: int) -> bool:
        states = self._json("GET", f"projects/{project_id}/examples/{example_id}/states", what="reading a confirm state")
        return bool(states if isinstance(states, list) else states.get("results"))

    def set_confirmed(self, project_id: int, example_id: int, confirmed: bool = True) -> None:
        """Mark done (or undone) as the logged-in user. The endpoint toggles, so read the state first."""
        if self.is_confirmed(project_id, example_id) != confirmed:
            self.request("POST", f"projects/{project_id}/examples/{example_id}/states", what="toggling a confirm state",
                         json={})

    def member_progress(self, project_id: int) -> dict[str, int]:
        """Examples marked done per member: {username: done}."""
        data = self._json("GET", f"projects/{project_id}/metrics/member-progress", what="reading member progress")
        return {entry["user"]: int(entry["done"]) for entry in data.get("progress", [])}


def jsonl_import_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """A JSONL import file, ASCII-escaped: Doccano guesses encodings with chardet, which fails on short
    UTF-8 files with emoji (docs/doccano.md §3); escapes decode exactly, astral characters included."""
    return "".join(json.dumps(record, ensure_ascii=True) + "\n" for record in records).encode("ascii")


def _raise_for_status(response: Any, what: str) -> None:
    if response.status_code == 404:
        raise DoccanoNotFound(f"{what}: not found on the Doccano server (HTTP 404 for {response.request.url.path})")
    if response.status_code >= 400:
        raise DoccanoError(f"{what}: Doccano answered HTTP {response.status_code}: {_short(response.text)}")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
