"""Projects: list, read, create and change them; their members and progress (``client.projects``).

Settings are the project settings page's, by the same names (``overlap``, ``guidelines``, ``rationale``,
``gold_ratio``, ``blind``, ``active``, ``attributes``, ``scale``, ``principles``, …); the server checks them with
that page's form, so it refuses what the page refuses, with the same messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agora_client.paths import segment

if TYPE_CHECKING:
    from agora_client.client import Client


class Projects:
    def __init__(self, client: Client):
        self._client = client

    def list(self) -> list[dict]:
        """The projects the token may use, each with the caller's ``role`` in it."""
        return self._client.call("GET", "/projects")

    def get(self, slug: str) -> dict:
        return self._client.call("GET", f"/projects/{segment(slug)}")

    def create(self, slug: str, name: str, task_type: str = "pairwise", **settings: Any) -> dict:
        """A new project, of which the caller becomes the owner (needs staff or the 'add project' permission).
        ``task_type``: pairwise, ternary, graded, likert, ranking, principles, …"""
        body = {"slug": slug, "name": name, "task_type": task_type, **settings}
        return self._client.call("POST", "/projects", json=body)

    def update(self, slug: str, **settings: Any) -> dict:
        """Change only the settings named (owners)."""
        return self._client.call("PATCH", f"/projects/{segment(slug)}", json=settings, repeatable=True)

    def members(self, slug: str) -> list[dict]:
        """``[{"username", "role"}]`` (owners)."""
        return self._client.call("GET", f"/projects/{segment(slug)}/members")

    def set_member(self, slug: str, username: str, role: str) -> dict:
        """Add the user with this role (owner, reviewer or annotator), or change their role."""
        path = f"/projects/{segment(slug)}/members/{segment(username)}"
        return self._client.call("PUT", path, json={"role": role}, repeatable=True)

    def remove_member(self, slug: str, username: str) -> None:
        self._client.call("DELETE", f"/projects/{segment(slug)}/members/{segment(username)}")

    def progress(self, slug: str) -> dict:
        """The dashboard's figures: items, complete, annotations, gold_annotations, leased, by_state."""
        return self._client.call("GET", f"/projects/{segment(slug)}/progress")
