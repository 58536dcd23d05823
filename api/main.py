"""The API: /api/v1/, its OpenAPI schema at /api/v1/openapi.json and its docs at /api/v1/docs.

The version is in the path: a change that breaks a client goes to /api/v2/, and the README's changelog
says what changed in each."""

from __future__ import annotations

from ninja import NinjaAPI

from api import arena_models, errors, exports, items, judgments, projects, ratings
from api.auth import Session, TokenAuth


class AgoraAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """ninja documents every response as application/json; refusals are problem details
        (api/errors.py), so the schema says application/problem+json for them."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema["paths"].values():
            for operation in path.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    body = content.get("application/json", {}).get("schema", {})
                    if body.get("$ref", "").endswith("/Problem"):
                        response["content"] = {errors.CONTENT_TYPE: {"schema": body}}
        # The pushes read their bodies as a stream, not through a parameter, so ninja does not list the
        # schema of one pushed item: add it (and what it refers to) for the $refs in their request bodies.
        components = schema["components"].setdefault("schemas", {})
        item = items.ItemIn.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(item.pop("$defs", {}))
        components["ItemIn"] = item
        return schema


api = AgoraAPI(
    title="Agora API",
    version="1",
    description="Projects, items, judgments, exports, ratings and models. Send `Authorization: Bearer <token>` "
    "(create one at /api/tokens/) or use a logged-in browser session.",
    auth=[TokenAuth(), Session()],
    urls_namespace="api-v1",
)
errors.install(api)
api.add_router("/projects", projects.router)
api.add_router("/projects", items.router)
api.add_router("/judgments", judgments.router)
api.add_router("/exports", exports.router)
api.add_router("/ratings", ratings.router)
api.add_router("/models", arena_models.router)
