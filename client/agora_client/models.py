"""The arena's models (staff): register, change and deactivate them (``client.models``).

A model's fields are ``manage.py add_model``'s: ``backend``, ``organization``, ``endpoint``, ``model_id``,
``api_key_env``, ``params``, ``weight``, ``max_concurrency``, ``timeout_s``, ``queue`` and ``active``. The API key
itself never travels: ``api_key_env`` names the server's environment variable that holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agora_client.paths import segment

if TYPE_CHECKING:
    from agora_client.client import Client


class Models:
    def __init__(self, client: Client):
        self._client = client

    def list(self) -> list[dict]:
        return self._client.call("GET", "/models")

    def get(self, name: str) -> dict:
        return self._client.call("GET", f"/models/{segment(name)}")

    def create(self, name: str, backend: str, **fields: Any) -> dict:
        """Register a model; Conflict if the name is taken (``update`` changes one)."""
        return self._client.call("POST", "/models", json={"name": name, "backend": backend, **fields})

    def update(self, name: str, **fields: Any) -> dict:
        """Change only the fields named."""
        return self._client.call("PATCH", f"/models/{segment(name)}", json=fields, repeatable=True)

    def deactivate(self, name: str) -> dict:
        """Stop serving the model in the arena; its votes and ratings stay."""
        return self._client.call("POST", f"/models/{segment(name)}/deactivate", repeatable=True)
