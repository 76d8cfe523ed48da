"""A run on disk: ``runs/<task>/<run-name>/``.

- ``config.json``: what was run (task spec, seed, budget, scales, data checksums, command) and
  the range of each input over the training rows of each group (for ``discover predict``).
- ``candidates.jsonl``: every evaluated candidate, one JSON object per line, appended and
  flushed as it is made, so killing the process loses nothing already written (a partial
  last line, if the kill came mid-write, is ignored on reading).
- ``state.json``: where the search stands (generation, populations, elapsed time), for
  ``--resume``; ``summary.json``: frontier and counters; ``final.json``: the reported laws,
  refitted on all of train and scored once on test, how the recommended one was chosen, and the
  laws the choice could not tell apart from it (``admitted``), refitted alike. JSON files are replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from discover.errors import UserError
from discover.evaluate import Evaluation

CANDIDATES = "candidates.jsonl"
_REQUIRED = object()  # read_json: no default, a missing file is an error


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=_default)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class RunStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._log = None

    @classmethod
    def create(cls, path: str | Path, config: dict) -> RunStore:
        store = cls(path)
        if (store.path / CANDIDATES).exists():
            raise UserError(f"{store.path} already holds a run: use --resume {store.path} or another --out")
        store.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(store.path / "config.json", config)
        return store

    @classmethod
    def open(cls, path: str | Path) -> RunStore:
        store = cls(path)
        if not store.path.is_dir():
            raise UserError(f"{store.path}: no such folder")
        if not (store.path / "config.json").is_file():
            below = sorted(p.parent for p in store.path.glob("*/config.json")) or sorted(
                p.parent for p in store.path.glob("*/*/config.json"))
            hint = (f"; run folders below it: {', '.join(str(p) for p in below[-3:])}"
                    f"{f' and {len(below) - 3} more' if len(below) > 3 else ''}") if below else ""
            raise UserError(f"{store.path} is not a run folder (no config.json){hint}")
        return store

    @property
    def config(self) -> dict:
        return self.read_json("config.json")

    def read_json(self, name: str, default: Any = _REQUIRED) -> Any:
        """A JSON file of the run; ``default`` when it is missing (a UserError without one)."""
        p = self.path / name
        if not p.is_file():
            if default is not _REQUIRED:
                return default
            raise UserError(f"{p} is missing")
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{p} is not valid JSON ({exc})") from None

    def final(self) -> dict | None:
        """``final.json``: the reported laws; None while the run has not finished."""
        return self.read_json("final.json", default=None)

    def no_law_reason(self) -> str:
        """What to tell a user whose finished run has no valid law: why its candidates failed,
        the most common reasons first."""
        records = self.records()
        if not records:
            max_params = self.config.get("search", {}).get("max_params")
            why = f"no candidate was evaluated (no motif has {max_params} parameter(s) or fewer: --max-params)"
        else:
            bad = Counter(r.reason or "unknown" for r in records if not r.ok)
            top = "; ".join(f"{reason} ×{n}" for reason, n in bad.most_common(3))
            why = f"{sum(bad.values())} of {len(records)} candidate(s) failed" + (f" ({top})" if top else "")
        return f"no law could be fitted: {why}"

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.path / name, data)

    def append(self, record: Evaluation) -> None:
        if self._log is None:
            self._log = open(self.path / CANDIDATES, "a", encoding="utf-8")
        self._log.write(json.dumps(record.to_json(), default=_default) + "\n")
        self._log.flush()

    def sync(self) -> None:
        if self._log is not None:
            os.fsync(self._log.fileno())

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def records(self, repair: bool = False) -> list[Evaluation]:
        """All complete records. A torn last line (killed mid-write) is dropped; with
        ``repair`` it is also truncated away so that appending can go on (for --resume)."""
        p = self.path / CANDIDATES
        if not p.is_file():
            return []
        out: list[Evaluation] = []
        good_bytes = 0
        with open(p, "rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break
                try:
                    out.append(Evaluation.from_json(json.loads(raw)))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    break
                good_bytes += len(raw)
        if repair and good_bytes < p.stat().st_size:
            with open(p, "r+b") as f:
                f.truncate(good_bytes)
        return out
