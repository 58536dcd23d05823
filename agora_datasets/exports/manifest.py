"""The manifest written beside every export: what was exported, how, by which code, and checksums.

``<output>.manifest.json`` (or ``manifest.json`` in an output folder) holds the format and file format,
the filters and options, the counts (rows and comparisons per split, judgments per split and source), the
code version (the installed package's version and the git commit, or "unknown") and, per data file, its
name, split, rows, size and sha256. The pseudonym salt is never written. It has no timestamp, so the same
export of the same data gives the same manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def code_version() -> dict:
    try:
        package = metadata.version("agora")
    except metadata.PackageNotFoundError:
        package = "unknown"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"package": package, "git": commit}


def manifest_write(path: Path, manifest: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
