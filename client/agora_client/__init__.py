"""A Python client for Agora's JSON API (/api/v1/).

>>> from agora_client import Client
>>> with Client("https://agora.example.org", token) as agora:
...     agora.items.push("my-project", records)
...     table = agora.judgments.to_datasets(project="my-project")
"""

from agora_client.client import Client
from agora_client.errors import (
    AgoraError,
    Conflict,
    ExportFailed,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
)
from agora_client.exports import Export
from agora_client.items import PushReport
from agora_client.judgments import WriteReport
from agora_client.version import __version__

__all__ = [
    "AgoraError",
    "Client",
    "Conflict",
    "Export",
    "ExportFailed",
    "Forbidden",
    "Invalid",
    "NotFound",
    "PushReport",
    "RateLimited",
    "Unauthorized",
    "WriteReport",
    "__version__",
]
