"""The HTML report in a real browser: headless Chromium via chromedriver's W3C WebDriver HTTP API.

Opens the report from a file URL with networking disabled, checks that the formulas and plots
are laid out with a non-zero size and decoded, that the console has no errors, and saves a
screenshot (``tests/artifacts/report.png`` is the committed one). Needs the Debian packages
``chromium`` and ``chromium-driver`` (``.ci/report-deps.sh`` installs them): without them the
test fails, it does not skip.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_report import SLDBENCH, make_bench, make_run

from discover.report import write_report

CHROMIUM = os.environ.get("DISCOVER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DISCOVER_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--window-size=1280,2200"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver calls the test needs, over urllib, to a chromedriver it starts itself."""

    def __init__(self, driver: str = CHROMEDRIVER, browser: str = CHROMIUM):
        missing = [p for p in (driver, browser) if not (Path(p).is_file() or shutil.which(p))]
        if missing:
            pytest.fail(f"headless Chromium is needed for the browser test: {', '.join(missing)} not found; "
                        "install it with `bash .ci/report-deps.sh` (Debian packages chromium, chromium-driver)")
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.profile = tempfile.mkdtemp(prefix="discover-chromium-")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.session = ""
        self._wait_ready()
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": [*ARGS, f"--user-data-dir={self.profile}"]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _wait_ready(self, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"chromedriver exited at start (code {self.proc.returncode})")
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        pytest.fail("chromedriver did not become ready in 20 s")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}").get("value") or {}
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise AssertionError(f"WebDriver {method} {path} failed: {exc.code} {detail}") from None

    def cmd(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def script(self, js: str, *args):
        return self.cmd("POST", "/execute/sync", {"script": js, "args": list(args)})

    def logs(self) -> list[dict]:
        for path in ("/se/log", "/log"):
            try:
                return list(self.cmd("POST", path, {"type": "browser"}) or [])
            except AssertionError:
                continue
        return []

    def screenshot(self) -> bytes:
        return base64.b64decode(self.cmd("GET", "/screenshot"))

    def quit(self) -> None:
        try:
            if self.session:
                self.cmd("DELETE", "")
        except (AssertionError, OSError, urllib.error.URLError):
            pass
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


VISIBLE_JS = """
const out = [];
for (const el of document.querySelectorAll(arguments[0])) {
  el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  out.push({id: el.id, cls: el.className, w: r.width, h: r.height, complete: el.complete === true,
            natural: el.naturalWidth || 0, hidden: style.visibility === 'hidden' || style.display === 'none'});
}
window.scrollTo(0, 0);
return out;
"""


@pytest.fixture(scope="module")
def report_run_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-run") / "report.html"
    return write_report(make_run(tmp_path_factory), out, "html", SLDBENCH)


@pytest.fixture(scope="module")
def report_bench_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-bench") / "bench.html"
    return write_report(make_bench(tmp_path_factory), out, "html", SLDBENCH)


@pytest.fixture(scope="module")
def browser():
    driver = WebDriver()
    try:
        yield driver
    finally:
        driver.quit()


def _check_page(driver: WebDriver, html: Path, screenshot: Path) -> dict:
    driver.get(html.resolve().as_uri())
    for _ in range(100):
        if driver.script("return document.readyState") == "complete":
            break
        time.sleep(0.05)
    formulas = driver.script(VISIBLE_JS, "img.formula")
    plots = driver.script(VISIBLE_JS, "img.plot")
    shot = driver.screenshot()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(shot)
    errors = [e for e in driver.logs() if e.get("level") == "SEVERE"]
    return {"formulas": formulas, "plots": plots, "errors": errors, "shot": shot,
            "title": driver.script("return document.title")}


def _assert_visible(elements: list[dict], what: str) -> None:
    assert elements, f"no {what} in the page"
    for e in elements:
        assert e["w"] > 0 and e["h"] > 0 and not e["hidden"], f"{what} not visible: {e}"
        assert e["complete"] and e["natural"] > 0, f"{what} did not decode: {e}"


def test_run_report_renders_in_chromium(browser, report_run_html, tmp_path):
    result = _check_page(browser, report_run_html, tmp_path / "report.png")
    assert result["errors"] == [], f"console errors: {result['errors']}"
    _assert_visible(result["formulas"], "typeset formula")
    _assert_visible(result["plots"], "plot")
    ids = {p["id"].rsplit("-", 1)[-1] for p in result["plots"]}
    assert {"frontier", "fit", "residuals", "history"} <= ids
    assert result["shot"][:8] == b"\x89PNG\r\n\x1a\n" and len(result["shot"]) > 20_000
    assert "parallel_scaling_law" in result["title"]
    if os.environ.get("DISCOVER_UPDATE_ARTIFACTS"):
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "report.png").write_bytes(result["shot"])


def test_bench_report_renders_in_chromium(browser, report_bench_html, tmp_path):
    result = _check_page(browser, report_bench_html, tmp_path / "bench.png")
    assert result["errors"] == [], f"console errors: {result['errors']}"
    _assert_visible(result["formulas"], "typeset formula")
    _assert_visible(result["plots"], "plot")
    links = browser.script("return [...document.querySelectorAll('table.bench thead a')].map("
                           "a => document.getElementById(a.hash.slice(1)) !== null)")
    assert links and all(links), "a task link in the bench table points to no section"
