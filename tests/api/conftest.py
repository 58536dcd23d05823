import pytest
from django.test import Client

from api.tokens import token_create


@pytest.fixture
def token_for(world):
    """A token of one of the world's personas: ``token_for("owner", scope="write", projects=["pairwise"])``."""

    def make(persona: str, scope: str = "write", projects=(), rate_limit=None) -> str:
        _, raw = token_create(
            user=world.users[persona], name="test", scope=scope, projects=list(projects), rate_limit=rate_limit
        )
        return raw

    return make


@pytest.fixture
def api_client(token_for):
    """A Client whose requests carry the persona's token: ``api_client("owner")``."""

    def make(persona: str, **token) -> Client:
        return Client(headers={"Authorization": f"Bearer {token_for(persona, **token)}"})

    return make
