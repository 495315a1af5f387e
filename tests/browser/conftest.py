"""Browser fixtures: Debian's Chromium driven by Playwright against a real uvicorn server.

Every test gets a fresh page that records console errors, page errors, failed requests and
4xx/5xx answers; the test fails if any were recorded that it did not provoke on purpose.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    ViewportSize,
)

from app.training.events import ACTIVE, TERMINAL
from tests.app.sse_client import wait_status
from tests.conftest import OPERATOR, ROOT, Digits, Server

# NOTE: tests leave the tree as they found it; `make screenshots` points this at docs/screenshots.
SCREENSHOTS = Path(os.environ.get("BACKPROP_LAB_SCREENSHOTS") or ROOT / "build" / "screenshots")
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
_RESOURCE_STATUS = re.compile(r"status of (\d{3})")


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """One real server with the real digits (full MNIST or the subset) for every browser test."""
    server = Server(tmp_path_factory.mktemp("ui-data"), digits.env).start()
    yield server
    server.stop()


@dataclass
class Lab:
    """A page of the app, with what went wrong on it so far."""

    page: Page
    url: str
    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)
    may_fail: list[str] = field(default_factory=list)
    #: Requests sent and not yet answered (event streams left out: they stay open).
    in_flight: set[Request] = field(default_factory=set)
    #: The test is over and its page is closing: what that cuts off is no failure of the page.
    closing: bool = False

    def allow(self, status: int, path: str) -> None:
        """Expect an answer with ``status`` from a URL containing ``path`` (provoked on purpose)."""
        self.allowed.append((status, path))

    def allow_dropped(self, path: str) -> None:
        """Expect requests to URLs containing ``path`` to be cut off (a test drops the network)."""
        self.may_fail.append(path)

    def open(self, fragment: str = "") -> Page:
        """Load the page and wait until every view is ready."""
        self.page.goto(self.url + "/" + fragment)
        self.page.wait_for_selector("body[data-ready=true]")
        return self.page

    def reload(self) -> Page:
        """Load the same address again once what the page is loading has arrived (a reload
        cuts off the old document's requests, which is no failure of the page), then wait
        until every view is ready."""
        self.quiet()
        self.page.reload()
        self.page.wait_for_selector("body[data-ready=true]")
        return self.page

    def leave(self) -> None:
        """Go to a blank page once what the page is loading has arrived (so that the next
        ``open`` loads a new document: a change of the hash alone would not)."""
        self.quiet()
        self.page.goto("about:blank")

    def quiet(self, ms: int = 500, timeout: float = 15.0) -> None:
        """Wait until no request has been in flight for ``ms`` milliseconds (event streams
        aside). Playwright's "networkidle" is reached once per document, so after a click it
        returns at once; this waits for what the click started."""
        import time

        deadline = time.monotonic() + timeout
        still = 0
        while still < ms:
            if time.monotonic() > deadline:
                urls = sorted(r.url for r in self.in_flight)
                raise AssertionError(f"requests still in flight after {timeout} s: {urls}")
            self.page.wait_for_timeout(50)
            still = 0 if self.in_flight else still + 50

    def on_request(self, request: Request) -> None:
        if "/events" not in request.url:
            self.in_flight.add(request)

    def on_done(self, request: Request) -> None:
        self.in_flight.discard(request)

    def screenshot(self, name: str) -> None:
        """Write <name>.png into SCREENSHOTS (build/screenshots; docs/ via make screenshots)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    def _allowed_status(self, status: int, url: str) -> bool:
        return any(status == s and p in url for s, p in self.allowed)

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        if self.may_fail and "net::ERR_" in msg.text:
            return
        m = _RESOURCE_STATUS.search(msg.text)
        if m and any(int(m.group(1)) == s for s, _ in self.allowed):
            return
        self.problems.append(f"console error: {msg.text} ({msg.location.get('url', '')})")

    def on_response(self, response: Response) -> None:
        if response.status >= 400 and not self._allowed_status(response.status, response.url):
            self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def on_failed(self, request: Request) -> None:
        self.in_flight.discard(request)
        failure = request.failure or ""
        if "ERR_ABORTED" in failure and ("/events" in request.url or self.closing):
            return  # an event stream the page closed on purpose, or the test's end
        if any(p in request.url for p in self.may_fail):
            return
        self.problems.append(f"request failed: {request.method} {request.url} ({failure})")


@contextmanager
def lab_on(
    browser: Browser, url: str, viewport: ViewportSize = VIEWPORT, has_touch: bool = False
) -> Iterator[Lab]:
    """A fresh page of the app at ``url``; fails on console errors or unexpected failed requests."""
    # NOTE: Playwright's wait_for_function evaluates strings, which the page's CSP forbids;
    # test_csp.py runs the page with its policy enforced.
    context = browser.new_context(
        viewport=viewport, has_touch=has_touch, accept_downloads=True, bypass_csp=True
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    lab = Lab(page, url)
    page.on("console", lab.on_console)
    page.on("pageerror", lambda e: lab.problems.append(f"page error: {e}"))
    page.on("response", lab.on_response)
    page.on("requestfailed", lab.on_failed)
    page.on("request", lab.on_request)
    page.on("requestfinished", lab.on_done)
    yield lab
    lab.closing = True
    page.close()
    context.close()
    assert not lab.problems, "\n".join(lab.problems)


@pytest.fixture
def lab(browser: Browser, ui_server: Server) -> Iterator[Lab]:
    """A fresh 1280x800 page; fails the test on console errors or unexpected failed requests."""
    with lab_on(browser, ui_server.url) as lab:
        yield lab


@pytest.fixture(autouse=True)
def no_run_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the shared server, its runs still queued or training are cancelled.

    The server has one training worker: a long run a test left behind (a CI run once trained
    100,000 iterations for 7 minutes) would keep the next tests' runs waiting past their time.
    """
    yield
    if "ui_server" not in request.fixturenames:
        return
    url = request.getfixturevalue("ui_server").url
    runs = httpx.get(f"{url}/runs", params={"limit": 1000}, timeout=30).json()["runs"]
    active = [r["id"] for r in runs if r["status"] in ACTIVE]
    for run_id in active:
        httpx.delete(f"{url}/train/{run_id}", headers=OPERATOR, timeout=30)
    for run_id in active:  # the worker is free again when each has ended
        wait_status(url, run_id, set(TERMINAL), timeout=30)


def link(graph: dict[str, Any]) -> str:
    """A graph as the page's address carries it (base64url of its JSON, after ``g=``)."""
    return base64.urlsafe_b64encode(json.dumps(graph).encode()).decode().rstrip("=")


def reused_x(accumulate: str | None = None) -> dict[str, Any]:
    """x · x + x at x = 3: x is used three times (dL/dx = 2x + 1 = 7 when summed)."""
    graph: dict[str, Any] = {
        "nodes": [
            {"id": "x", "op": "input", "value": 3},
            {"id": "m", "op": "mul", "inputs": ["x", "x"]},
            {"id": "s", "op": "add", "inputs": ["m", "x"]},
        ],
        "output": "s",
    }
    if accumulate:
        graph["accumulate"] = accumulate
    return graph
