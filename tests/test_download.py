"""Download from a Hugging Face-style endpoint: a local HTTP server stands in for huggingface.co."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from discover.data import load_dataset
from discover.errors import UserError
from discover.tasks import find_task

NAME = "parallel_scaling_law"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    """Start a file server on 127.0.0.1 (any free port) over a folder; yields a function returning the server."""
    servers = []

    def start(root: Path) -> http.server.ThreadingHTTPServer:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def url(server: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def hub(tmp_path: Path, sldbench_dir: Path, name: str = NAME) -> Path:
    """A folder laid out like the Hub: datasets/<repo>/resolve/main/<config>/<split>-00000-of-00001.parquet."""
    root = tmp_path / "hub"
    folder = root / "datasets" / "pkuHaowei" / "sldbench" / "resolve" / "main" / name
    folder.mkdir(parents=True)
    for split in ("train", "test"):
        shutil.copy(sldbench_dir / name / f"{split}.parquet", folder / f"{split}-00000-of-00001.parquet")
    return root


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    monkeypatch.delenv("DISCOVER_DATA", raising=False)
    monkeypatch.delenv("DISCOVER_TASKS", raising=False)
    path = tmp_path / "cache"
    monkeypatch.setenv("DISCOVER_CACHE", str(path))
    return path


def test_download_lands_in_the_cache_and_is_reused(serve, cache, tmp_path, sldbench_dir, monkeypatch, capsys):
    task = find_task(NAME)
    server = serve(hub(tmp_path, sldbench_dir))
    endpoint = url(server)
    monkeypatch.setenv("HF_ENDPOINT", endpoint + "/")
    ds = load_dataset(task)
    assert ds.source == f"{endpoint}/datasets/pkuHaowei/sldbench"
    assert (len(ds.train), len(ds.test)) == (36, 12)
    assert ds.checksums == {"train.parquet": task.sha256["train.parquet"], "test.parquet": task.sha256["test.parquet"]}
    assert sorted(p.name for p in (cache / NAME).iterdir()) == ["test.parquet", "train.parquet"]
    assert "downloading" in capsys.readouterr().err
    server.shutdown()  # no server any more: the cache must be enough
    server.server_close()
    again = load_dataset(task)
    assert again.source == str(cache / NAME) and again.checksums == ds.checksums
    assert load_dataset(task, download=False).source == str(cache / NAME)


def test_wrong_bytes_are_rejected_and_not_cached(serve, cache, tmp_path, sldbench_dir, monkeypatch):
    root = hub(tmp_path, sldbench_dir)
    bad = root / "datasets/pkuHaowei/sldbench/resolve/main" / NAME / "train-00000-of-00001.parquet"
    bad.write_bytes(bad.read_bytes()[:-1] + b"\0")
    monkeypatch.setenv("HF_ENDPOINT", url(serve(root)))
    task = find_task(NAME)
    with pytest.raises(UserError) as e:
        load_dataset(task)
    msg = str(e.value)
    assert "sha256" in msg and task.sha256["train.parquet"] in msg and "nothing was saved" in msg
    assert not any(p.is_file() for p in cache.rglob("*"))  # no file, no partial download


def test_missing_file_on_the_server(serve, cache, tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("HF_ENDPOINT", url(serve(tmp_path / "empty")))
    with pytest.raises(UserError, match="no data for parallel_scaling_law: .* failed: HTTP 404"):
        load_dataset(find_task(NAME))
    assert not any(p.is_file() for p in cache.rglob("*"))


def test_no_data_and_no_network_is_one_clear_line(cache, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(UserError) as e:
        load_dataset(find_task("vocab"))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("no data for vocab_scaling_law: pass --data-dir DIR or set DISCOVER_DATA to a folder with "
                          "vocab_scaling_law/train.parquet, or allow download from "
                          "http://127.0.0.1:9/datasets/pkuHaowei/sldbench (")
    assert "failed" in msg and "refused" in msg.lower()


def test_unwritable_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("DISCOVER_DATA", raising=False)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("DISCOVER_CACHE", str(tmp_path / "file" / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(UserError, match="cannot write the data cache .*DISCOVER_CACHE"):
        load_dataset(find_task(NAME))
