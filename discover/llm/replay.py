"""The record of a run's LLM calls, kept in ``<run>/llm/``, and replaying it without a network.

- ``<key>.json``: one call: the request as sent, its occurrence number (the k-th identical
  request of the run), and the outcome with the raw answer body. ``key`` is the sha256 of
  the canonical JSON of request and occurrence, so identical requests asked twice (the
  model may answer differently) stay distinct and the same run asks the same keys.
- ``log.jsonl``: when each call was launched and delivered to the search (by generation),
  what was accepted and rejected; replay follows it so the search sees the same answers at
  the same points.
- ``settings.json``: model, limits and prompt templates of the run (no API key).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from discover.errors import UserError
from discover.llm.client import Outcome
from discover.runstore import write_json_atomic

LOG = "log.jsonl"
SETTINGS = "settings.json"


def request_key(request: dict, occurrence: int = 0) -> str:
    """Content address of a request (and of which identical request of the run it is)."""
    blob = json.dumps({"request": request, "occurrence": occurrence}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CallStore:
    """Read and write one ``llm/`` folder. Writes from worker threads are safe."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def save(self, key: str, request: dict, occurrence: int, outcome: Outcome) -> None:
        write_json_atomic(self.folder / f"{key}.json",
                          {"key": key, "request": request, "occurrence": occurrence, "outcome": outcome.to_json()})

    def load(self, key: str) -> Outcome | None:
        path = self.folder / f"{key}.json"
        if not path.is_file():
            return None
        try:
            return Outcome.from_json(json.loads(path.read_text(encoding="utf-8"))["outcome"])
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def log(self, event: dict) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(event, ensure_ascii=False) + "\n")

    def events(self) -> list[dict]:
        path = self.folder / LOG
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line
        return out

    def write_settings(self, settings: dict) -> None:
        write_json_atomic(self.folder / SETTINGS, settings)

    def read_settings(self) -> dict:
        path = self.folder / SETTINGS
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: cannot read the recorded LLM settings ({exc})") from None


def open_replay(path: str | Path) -> CallStore:
    """The call store to replay from: a run folder (its ``llm/``) or an ``llm/`` folder itself."""
    p = Path(path)
    for folder in (p / "llm", p):
        if (folder / LOG).is_file() and (folder / SETTINGS).is_file():
            return CallStore(folder)
    raise UserError(f"--llm-replay {path}: no recorded LLM calls there (expected llm/{LOG} and llm/{SETTINGS})")
