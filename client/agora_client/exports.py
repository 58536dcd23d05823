"""Export jobs: start one, follow it, download its files (``client.exports``).

An export runs in the background on the server's worker; ``create`` answers at once with the queued job, and
``Export.wait()`` follows it until it is done. Its parameters are ``manage.py export_dataset``'s options by the
same names: ``format`` (raw, trl-preference, trl-kto, reward-pairs, ratings, rankings, …), ``file_format``
(jsonl or parquet), ``project``, the judgments filters (``source``, ``since``, ``until``, ``model``,
``category``, ``language``, ``gold``) and the format's own (``min_agreement``, ``test_share``, ``ties``, …).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora_client.errors import ExportFailed
from agora_client.paths import segment

if TYPE_CHECKING:
    from agora_client.client import Client

LISTS = ("source", "model", "category", "language")
DOWNLOAD_CHUNK = 1024 * 1024


class Export:
    """One export job as last read: ``id``, ``state`` (queued, running, done, failed), ``progress`` (0 to 1),
    ``parameters``, ``rows``, ``error``, ``duration_ms``, ``created_at``, ``finished_at`` and ``files`` (the names
    to download, manifest.json first; empty until it is done). ``data`` is the job as the API sent it."""

    def __init__(self, client: Client, data: dict):
        self._client = client
        self._set(data)

    def _set(self, data: dict) -> None:
        self.data = data
        self.id: int = data["id"]
        self.state: str = data["state"]
        self.progress: float = data.get("progress", 0.0)
        self.parameters: dict = data.get("parameters", {})
        self.rows: int | None = data.get("rows")
        self.error: str = data.get("error", "")
        self.duration_ms: int | None = data.get("duration_ms")
        self.created_at: str | None = data.get("created_at")
        self.finished_at: str | None = data.get("finished_at")
        self.files: list[str] = data.get("files", [])

    def __repr__(self) -> str:
        return f"<Export {self.id} {self.state} {self.progress:.0%}>"

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def refresh(self) -> Export:
        """Read the job again."""
        self._set(self._client.call("GET", f"/exports/{self.id}"))
        return self

    def wait(self, *, poll: float = 1.0, timeout: float | None = None, progress: bool = True) -> Export:
        """Return once the job is done, reading it every ``poll`` seconds; raises ExportFailed if it fails and
        TimeoutError after ``timeout`` seconds. With ``progress``, a tqdm bar shows how far it is (when tqdm is
        installed: the ``progress`` extra)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _bar(self) if progress else None
        try:
            while True:
                if bar is not None:
                    bar.update(round(self.progress * 100) - bar.n)
                if self.state == "done":
                    return self
                if self.state == "failed":
                    raise ExportFailed(self)
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"export {self.id} is still {self.state} after {timeout} s")
                time.sleep(poll)
                self.refresh()
        finally:
            if bar is not None:
                bar.close()

    def download(self, name: str, path: str | Path) -> Path:
        """Save the file ``name`` (one of ``files``) at ``path`` (a folder: under its own name there); returns
        where it is. The file is written as it arrives, so a large one never sits in memory."""
        target = Path(path)
        if target.is_dir():
            target = target / name
        partial = target.with_name(target.name + ".partial")
        with self._client.streamed("GET", f"/exports/{self.id}/files/{segment(name)}") as response:
            try:
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        out.write(chunk)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        partial.replace(target)  # a half-written file never stands under the real name
        return target

    def download_all(self, folder: str | Path) -> list[Path]:
        """Save every file, manifest.json included, in ``folder`` (made if missing); returns their paths."""
        if not self.files:
            self.refresh()
        if not self.files:
            raise RuntimeError(f"export {self.id} is {self.state}: it has files once it is done (wait() first)")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [self.download(name, folder / name) for name in self.files]

    def manifest(self) -> dict:
        """The finished export's manifest.json: its files (rows, bytes, sha256), filters, counts and code
        version. NotFound until the job is done."""
        response = self._client.send("GET", f"/exports/{self.id}/files/manifest.json")
        return json.loads(response.content)


def _bar(export: Export):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=100, desc=f"export {export.id}", unit="%")


class Exports:
    def __init__(self, client: Client):
        self._client = client

    def create(self, format: str, **params: Any) -> Export:
        """Start an export job (owners of the project; staff for all projects) and return it, queued."""
        for name, value in params.items():
            if name in LISTS and isinstance(value, str):
                params[name] = [value]
            elif hasattr(value, "isoformat"):  # since, until: a date or datetime
                params[name] = value.isoformat()
        body = {"format": format, **{k: v for k, v in params.items() if v is not None}}
        return Export(self._client, self._client.call("POST", "/exports", json=body))

    def get(self, export_id: int) -> Export:
        return Export(self._client, self._client.call("GET", f"/exports/{segment(export_id)}"))

    def list(self) -> list[Export]:
        """The caller's latest export jobs (up to 100), newest first."""
        return [Export(self._client, data) for data in self._client.call("GET", "/exports")]
