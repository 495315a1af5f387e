"""A queued run says where it stands in the queue, and a run a lost worker started again shows
only its latest attempt.

These tests run their own server with one training worker, so runs queue behind a long one.
Nothing here sleeps: a test waits for the state it needs (an event in a run's stream, a text on
the page), and where it shows that the page does NOT ask for something, it runs the page's
own clock ahead (Playwright's clock) past the time such a request would take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, ViewportSize, expect

from app.training import events
from app.training.records import NewEvent
from app.training.store import RunStore
from tests.browser.conftest import Lab, lab_on
from tests.browser.test_train_runs import run_id, run_link
from tests.browser.test_train_view import looks_at, wait_event, wait_status
from tests.conftest import OPERATOR, Digits, Server

#: Iterations of the run that keeps the only worker busy (cancelled long before it ends).
LONG = 100_000
#: The learner's owner token: runs start with it, and the pages carry it as their cookie, so
#: the page may stop them as its own.
OWNER = "queue-test-learner-token-0123456789abcdef"
ACTIVE = ("queued", "running")


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> Iterator[Server]:
    """A real server with a single training worker (BACKPROP_LAB_WORKERS=1)."""
    env = {**digits.env, "BACKPROP_LAB_WORKERS": "1"}
    server = Server(tmp_path_factory.mktemp("queue-data"), env).start()
    yield server
    server.stop()


class Runs:
    """Runs started over the API; every one still queued or running is cancelled at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ids: list[str] = []

    def start(self, iterations: int, **config: Any) -> str:
        body = {"iterations": iterations, "batch_size": 100, "seed": 0, **config}
        r = httpx.post(f"{self.url}/train", json=body, headers={"Authorization": f"Bearer {OWNER}"})
        assert r.status_code == 202, r.text
        self.ids.append(r.json()["id"])
        return self.ids[-1]

    def get(self, rid: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/train/{rid}").json())

    def cancel(self, rid: str) -> None:
        assert httpx.delete(f"{self.url}/train/{rid}", headers=OPERATOR).status_code == 202

    def wait(self, rid: str, kind: str) -> None:
        """Wait until the run's log holds an event of ``kind`` (``running``: a worker took it)."""
        wait_event(self.url, rid, kind)

    def cancel_all(self) -> None:
        for rid in self.ids:
            if self.get(rid)["status"] in ACTIVE:
                httpx.delete(f"{self.url}/train/{rid}", headers=OPERATOR)
        for rid in self.ids:
            wait_event(self.url, rid, "done", timeout=30)


@pytest.fixture
def runs(one_worker: Server) -> Iterator[Runs]:
    """Start runs on the one-worker server; the next test finds its worker free."""
    runs = Runs(one_worker.url)
    yield runs
    runs.cancel_all()


@pytest.fixture
def open_lab(browser: Browser, one_worker: Server, runs: Runs) -> Iterator[Callable[..., Lab]]:
    """Pages of the one-worker server at a given size (closed, and checked, before the runs)."""
    with ExitStack() as stack:

        def make(width: int = 1280, height: int = 800, touch: bool = False) -> Lab:
            viewport: ViewportSize = {"width": width, "height": height}
            lab = stack.enter_context(lab_on(browser, one_worker.url, viewport, touch))
            cookie = {"name": "backprop_lab_owner", "value": OWNER, "url": one_worker.url}
            lab.page.context.add_cookies([cookie])  # type: ignore[list-item]
            return lab

        yield make


def status_cell(rid: str) -> str:
    """Selector of a run's status cell in the runs list."""
    return f'#runs-table tr[data-run="{rid}"] td:nth-child(3)'


def place(rid: str) -> str:
    """Selector of a queued run's place in the queue, under its status in the runs list."""
    return f"{status_cell(rid)} .queue-place"


def test_a_queued_run_says_how_many_runs_are_ahead_until_it_starts(
    runs: Runs, open_lab: Callable[..., Lab]
) -> None:
    long = runs.start(LONG)
    runs.wait(long, "running")
    b, c, d = (runs.start(300) for _ in range(3))
    assert [runs.get(r)["queue_position"] for r in (long, b, c, d)] == [None, 0, 1, 2]

    lab = open_lab()
    lab.page.clock.install()  # the page's timers run as usual; run_for runs them ahead
    requests: list[Request] = []
    lab.page.on("request", lambda r: requests.append(r))
    page = lab.open("#view=train")  # the newest run is opened: d
    note = page.locator("#run-note")
    assert run_id(page) == d
    expect(note).to_have_text("Queued — 2 runs ahead of it")
    expect(page.locator("#s-status")).to_have_text("queued")
    # The runs list says it too, under each queued run's status.
    expect(page.locator(place(d))).to_have_text("2 ahead")
    expect(page.locator(place(c))).to_have_text("1 ahead")
    expect(page.locator(place(b))).to_have_text("next to start")
    expect(page.locator(status_cell(long))).to_have_text("running")
    expect(page.locator(place(long))).to_have_count(0)
    lab.screenshot("train-queue")

    # Opening another run stops following the first one: no stream, no timer left behind
    # (3.5 s on the page's clock, past any look at d's place a timer could make).
    page.click(run_link(page, c))
    expect(note).to_have_text("Queued — 1 run ahead of it")
    requests.clear()
    page.clock.run_for(3500)
    assert looks_at(requests, d) == 0

    page.click(run_link(page, d))
    expect(note).to_have_text("Queued — 2 runs ahead of it")
    page.select_option("#lang-select", "zh")
    expect(note).to_have_text("排队中 — 前面还有 2 个训练")
    expect(page.locator(place(d))).to_have_text("前面 2 个")
    page.select_option("#lang-select", "en")
    expect(note).to_have_text("Queued — 2 runs ahead of it")

    # The runs ahead leave the queue: the page follows (the stream's `queued` events say so).
    runs.cancel(b)
    expect(note).to_have_text("Queued — 1 run ahead of it")
    expect(page.locator(place(c))).to_have_text("next to start")
    runs.cancel(c)
    expect(note).to_have_text("Queued — next to start")
    expect(page.locator(place(d))).to_have_text("next to start")

    # The worker is free: d starts, the note goes, and nothing asks for its record.
    runs.cancel(long)
    wait_status(page, "running")
    expect(note).to_be_hidden()
    requests.clear()
    page.clock.run_for(3500)
    assert looks_at(requests, d) == 0
    wait_status(page, "completed")
    expect(page.locator("#loss-chart")).to_have_attribute("data-points", "300")
    expect(note).to_be_hidden()


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def on_screen(page: Page, selector: str, width: int) -> None:
    """The element is visible and within the screen's width."""
    locator = page.locator(selector)
    expect(locator).to_be_visible()
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)


def test_a_phone_shows_the_queue_and_a_tap_stops_a_queued_run(
    runs: Runs, open_lab: Callable[..., Lab]
) -> None:
    long = runs.start(LONG)
    runs.wait(long, "running")
    b, c = runs.start(300), runs.start(300)
    lab = open_lab(360, 740, touch=True)
    page = lab.open("#view=train")  # c, the newest
    note = page.locator("#run-note")
    expect(note).to_have_text("Queued — 1 run ahead of it")
    on_screen(page, "#run-note", 360)
    on_screen(page, status_cell(c), 360)
    expect(page.locator(place(c))).to_have_text("1 ahead")
    assert page_width(page) <= 360

    page.tap(run_link(page, b))
    expect(note).to_have_text("Queued — next to start")
    note.scroll_into_view_if_needed()
    lab.screenshot("train-queue-phone")
    page.select_option("#lang-select", "zh")
    expect(note).to_have_text("排队中 — 下一个开始")
    on_screen(page, "#run-note", 360)
    assert page_width(page) <= 360
    page.select_option("#lang-select", "en")

    # Stop, tapped while b waits: b is cancelled and c moves up.
    page.tap("#t-stop")
    wait_status(page, "cancelled")
    expect(note).to_be_hidden()
    expect(page.locator(place(c))).to_have_text("next to start")
    page.tap(run_link(page, c))
    expect(note).to_have_text("Queued — next to start")
    runs.cancel(long)
    wait_status(page, "running")
    expect(note).to_be_hidden()


def progress(rid: str, first: int, last: int, loss: float, every: int = 50) -> list[NewEvent]:
    """``progress`` events for iterations first..last as a worker sends them (a few at a time)."""
    out = []
    for start in range(first, last + 1, every):
        end = min(start + every - 1, last)
        losses = [loss] * (end - start + 1)
        data = {"iteration": end, "loss": loss, "first_iteration": start, "losses": losses}
        out.append(NewEvent(rid, "progress", data))
    return out


def test_a_run_restarted_after_a_lost_worker_shows_only_its_latest_attempt(
    runs: Runs, open_lab: Callable[..., Lab], one_worker: Server, digits: Digits
) -> None:
    """The local executor never restarts a run (a lost worker fails it); an executor that does
    records, in the run's log, a ``running`` event with attempt 2 and that attempt's events.

    The log is written here the way such an executor's server would write it into the shared
    database (api.md: several server processes serve the same runs from one database): through
    ``RunStore.append``, the call the server's own sink makes. The run is queued behind a long
    one on this server's only worker, so nothing else writes its log meanwhile. Attempt 1 goes
    to iteration 300 at loss 9 with an epoch at 0.5 accuracy, then attempt 2 restarts and
    reaches iteration 150 at loss 5. The page replays that log from event 1.

    When the long run is cancelled, the server's worker really starts the run: the server
    records ``running`` with attempt 3 (it counts the log's earlier ones) and the page, which
    is watching, starts its charts again for that attempt, live.
    """
    batch = max(1, digits.train_size // 200)  # 200 iterations an epoch, whichever digits
    long = runs.start(LONG)
    runs.wait(long, "running")
    rid = runs.start(400, batch_size=batch)
    assert runs.get(rid)["queue_position"] == 0
    store = RunStore(one_worker.data_dir / "backprop-lab.sqlite3")
    try:
        epoch = {"epoch": 1, "iteration": 200, "train_acc": 0.5, "test_acc": 0.5}
        store.append(
            [
                NewEvent(rid, "running", events.running(1)),
                *progress(rid, 1, 200, 9.0),
                NewEvent(rid, "epoch", epoch),
                *progress(rid, 201, 300, 9.0),
                NewEvent(rid, "running", events.running(2)),
                *progress(rid, 1, 150, 5.0),
            ]
        )
    finally:
        store.close()
    # The server says the same: the run's history is its latest attempt's.
    record = runs.get(rid)
    assert record["status"] == "running"
    history = record["history"]
    assert (history["loss"], history["epochs"]) == ([5.0] * 150, [])

    lab = open_lab()
    page = lab.open("#view=train")  # the newest run
    assert run_id(page) == rid
    wait_status(page, "running")
    note = page.locator("#run-note")
    expect(note).to_have_text(
        "A worker was lost; the run restarted from the start (attempt 2). "
        "The charts show this attempt only."
    )
    # Attempt 1 reached iteration 300: mixed in, the chart would hold 300 points.
    expect(page.locator("#loss-chart")).to_have_attribute("data-points", "150")
    expect(page.locator("#s-iter")).to_have_text("150 / 400")
    expect(page.locator("#s-loss")).to_have_text("5")
    expect(page.locator("#acc-chart")).to_have_attribute("data-points", "0")
    expect(page.locator("#s-acc")).to_have_text("–")
    expect(page.locator("#s-eta")).to_have_text("–")
    expect(page.locator("#run-progress")).to_have_attribute("style", "width: 37.5%;")
    lab.screenshot("train-restarted")
    page.select_option("#lang-select", "zh")
    expect(note).to_have_text(
        "一个训练进程丢失了，这次训练已从头重新开始（第 2 次尝试）。图表只显示这一次。"
    )
    page.select_option("#lang-select", "en")

    # The worker is free: it starts the run for real, as the server's attempt 3.
    runs.cancel(long)
    expect(note).to_contain_text("(attempt 3)", timeout=30_000)
    wait_status(page, "completed")
    expect(page.locator("#loss-chart")).to_have_attribute("data-points", "400")
    expect(page.locator("#acc-chart")).to_have_attribute("data-points", "2")
    expect(page.locator("#s-iter")).to_have_text("400 / 400")
    assert float(page.locator("#s-loss").text_content() or "nan") < 3  # a real loss, not 5 or 9
    assert page.locator("#s-acc").text_content() != "50.00 %"
    history = runs.get(rid)["history"]
    assert len(history["loss"]) == 400 and 5.0 not in history["loss"]
    assert [e["iteration"] for e in history["epochs"]] == [200, 400]

    # Opened again, from its history: attempt 3 alone.
    page.click(run_link(page, long))
    wait_status(page, "cancelled")
    page.click(run_link(page, rid))
    wait_status(page, "completed")
    expect(page.locator("#loss-chart")).to_have_attribute("data-points", "400")
    expect(page.locator("#acc-chart")).to_have_attribute("data-points", "2")
    expect(page.locator("#s-iter")).to_have_text("400 / 400")
