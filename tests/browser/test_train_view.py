"""The training view in a real browser: a short MNIST run streamed live, then what it learned."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import Lab
from tests.conftest import Digits

ITERATIONS = 6000
BATCH = 100


def epochs(digits: Digits) -> int:
    """Accuracy points of a run of ITERATIONS (one per epoch of the digits at hand)."""
    return ITERATIONS // (digits.train_size // BATCH)


def points(page: Page, chart: str) -> int:
    """How many points a chart holds now."""
    return int(page.locator(f"#{chart}").get_attribute("data-points") or 0)


def status(page: Page) -> str:
    """The open run's status, as the page has it."""
    return page.locator("#view-train").get_attribute("data-run-status") or ""


def draw_seven(page: Page) -> None:
    """Draw a 7 on the pad with the mouse."""
    box = page.locator("#pad").bounding_box()
    assert box is not None

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    page.mouse.move(*at(0.25, 0.22))
    page.mouse.down()
    page.mouse.move(*at(0.75, 0.22), steps=8)
    page.mouse.move(*at(0.45, 0.85), steps=12)
    page.mouse.up()


def test_a_short_mnist_run_streams_live_and_can_be_inspected(lab: Lab, digits: Digits) -> None:
    page = lab.open("#view=train")
    expect(page.locator("#t-dataset")).to_have_value(digits.name)  # the best dataset here
    expect(page.locator('[data-limit="iterations"]')).to_contain_text("100000")
    page.fill("#t-iters", str(ITERATIONS))
    page.fill("#t-batch", str(BATCH))
    page.click("#t-start")

    # Two moments while the run is in progress: the loss chart has gained points.
    page.wait_for_function(
        "document.querySelector('#view-train').dataset.runStatus === 'running'"
        " && Number(document.querySelector('#loss-chart').dataset.points) > 0",
        timeout=30_000,
    )
    first = points(page, "loss-chart")
    box_before = page.locator("#loss-chart").bounding_box()
    insights_before = page.locator("#insights").bounding_box()
    # The second look: a later progress event has drawn more points, the run still runs, and
    # the rate is shown (it needs 0.4 s of progress; on the small offline set the run is short,
    # so all three are looked for at the same moment).
    page.wait_for_function(
        f"Number(document.querySelector('#loss-chart').dataset.points) > {first}"
        " && document.querySelector('#view-train').dataset.runStatus === 'running'"
        " && document.querySelector('#s-rate').textContent.includes('it/s')",
        timeout=30_000,
    )
    second = points(page, "loss-chart")
    assert second > first > 0
    expect(page.locator("#t-stop")).to_be_enabled()
    # Streaming does not move the layout.
    assert page.locator("#loss-chart").bounding_box() == box_before
    assert page.locator("#insights").bounding_box() == insights_before

    page.wait_for_function(
        "document.querySelector('#view-train').dataset.runStatus === 'completed'", timeout=90_000
    )
    expect(page.locator("#s-status")).to_have_text("completed")
    expect(page.locator("#run-warning")).to_be_hidden()  # it learned: no divergence warning
    # Every iteration exactly once, and one accuracy point per epoch.
    assert points(page, "loss-chart") == ITERATIONS
    assert points(page, "acc-chart") == epochs(digits)
    expect(page.locator("#s-iter")).to_have_text(f"{ITERATIONS} / {ITERATIONS}")
    expect(page.locator("#s-acc")).to_contain_text("%")
    # Epochs are whole numbers: the accuracy chart has no tick at 1.5.
    ticks = (page.locator("#acc-chart").get_attribute("data-x-ticks") or "").split()
    assert ticks and all(float(x).is_integer() for x in ticks), ticks
    assert (page.locator("#export-csv").get_attribute("href") or "").endswith("/history.csv")
    expect(page.locator("#runs-table tbody tr").first.locator("td").nth(2)).to_have_text(
        "completed"
    )

    draw_seven(page)
    bars = page.locator("#prob-bars li")
    expect(bars).to_have_count(10)
    total = sum(float(bars.nth(k).get_attribute("data-p") or "nan") for k in range(10))
    assert abs(total - 1.0) < 1e-6
    expect(page.locator("#pad-result")).to_contain_text("The network says")
    lab.screenshot("train-view")

    page.click('[data-insight="weights"]')
    expect(page.locator("#weights-grid .tile")).to_have_count(50)
    page.click('[data-insight="confusion"]')
    expect(page.locator("#confusion table.cm tbody tr")).to_have_count(10)
    page.click('[data-insight="mistakes"]')
    expect(page.locator("#mistakes-grid .tile").first).to_be_visible()
    expect(page.locator("#mistakes-grid .tile").first).to_contain_text("true")
    page.locator("#insights").scroll_into_view_if_needed()
    lab.screenshot("train-misclassified")
    page.click('[data-insight="weights"]')
    lab.screenshot("train-weights")


def wait_status(page: Page, wanted: str, timeout: float = 60_000) -> None:
    """Wait until the open run has status `wanted`."""
    page.wait_for_function(
        f"document.querySelector('#view-train').dataset.runStatus === '{wanted}'", timeout=timeout
    )


def start(page: Page, iterations: int) -> None:
    """Start a run of `iterations` from the form."""
    before = page.locator("#view-train").get_attribute("data-run-id") or ""
    page.fill("#t-iters", str(iterations))
    page.fill("#t-batch", str(BATCH))
    page.click("#t-start")
    page.wait_for_function(
        f"['', '{before}'].indexOf(document.querySelector('#view-train').dataset.runId) === -1"
    )


def events(url: str, after: int = 0, count: int | None = None) -> tuple[str, int]:
    """SSE text of a run's events after id `after` (`count` of them, or all), and the last id."""
    text, last = "retry: 200\n\n", 0
    headers = {"Last-Event-ID": str(after)} if after else {}
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        for line in response.iter_lines():
            text += line + "\n"
            if line.startswith("id:"):
                last = int(line[3:].strip())
            if line == "" and last and count is not None:
                count -= 1
                if count == 0:
                    break
    return text, last


def wait_event(url: str, rid: str, kind: str, timeout: float = 60.0) -> None:
    """Wait until a run's log holds an event of ``kind``: its stream (the log replayed, then
    followed live) is read up to that event."""
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", f"{url}/train/{rid}/events", timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line == f"event: {kind}":
                return
            assert time.monotonic() < deadline, f"no {kind} event for run {rid} in {timeout} s"
    raise AssertionError(f"run {rid}'s stream ended without a {kind} event")


def test_a_dropped_connection_resumes_without_gaps_or_duplicates(lab: Lab, digits: Digits) -> None:
    page = lab.open("#view=train")
    connections: list[int] = []

    def drop_then_resume(route: Route) -> None:
        if not connections:
            # The first connection ends after four events, as a dropped connection would.
            body, last = events(route.request.url, count=4)
            connections.append(last)
        else:
            # The reconnection: resume two events early, so the page gets two it already has.
            body, last = events(route.request.url, after=connections[0] - 2)
            connections.append(last)
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    page.route("**/train/*/events", drop_then_resume)
    start(page, ITERATIONS)
    wait_status(page, "completed", 90_000)
    assert len(connections) == 2
    assert points(page, "loss-chart") == ITERATIONS
    assert points(page, "acc-chart") == epochs(digits)
    expect(page.locator("#s-iter")).to_have_text(f"{ITERATIONS} / {ITERATIONS}")


def test_stop_a_run_and_overlay_an_earlier_one(lab: Lab) -> None:
    page = lab.open("#view=train")
    start(page, 300)
    wait_status(page, "completed")
    earlier = page.locator("#runs-table tbody tr").first.get_attribute("data-run")
    start(page, 100_000)
    wait_status(page, "running")
    page.click("#t-stop")
    wait_status(page, "cancelled")
    expect(page.locator("#s-status")).to_have_text("cancelled")
    expect(page.locator("#t-stop")).to_be_disabled()
    page.check(f'#runs-table tr[data-run="{earlier}"] input[type=checkbox]')
    legend = page.locator("#loss-chart .u-legend")
    # Another run is named by its name (from its settings), never by its hex id.
    expect(legend).to_contain_text("SGD lr")
    assert str(earlier)[:6] not in (legend.text_content() or "")
    expect(legend).to_contain_text("this run (smoothed)")
    # With a second run the legend wraps to two lines: it stays inside the chart's box.
    legend_box = legend.bounding_box()
    chart_box = page.locator("figure.chart-box").first.bounding_box()
    assert legend_box is not None and chart_box is not None
    assert legend_box["y"] + legend_box["height"] <= chart_box["y"] + chart_box["height"]
    expect(page.locator("#s-eta")).to_have_text("–")
    with page.expect_download() as download:
        page.click("#export-csv")
    csv = Path(download.value.path()).read_text()
    assert csv.splitlines()[0].startswith("iteration,loss")
    with page.expect_download() as download:
        page.click("#export-json")
    assert json.loads(Path(download.value.path()).read_text())["status"] == "cancelled"

    # The pad classifies with the open run; opening another run drops the old probabilities.
    cancelled = page.locator("#view-train").get_attribute("data-run-id")
    page.click(f'#runs-table tr[data-run="{earlier}"] button.link')
    page.wait_for_function(f"document.querySelector('#view-train').dataset.runId === '{earlier}'")
    draw_seven(page)
    bars = page.locator("#prob-bars li")
    expect(bars).to_have_count(10)
    # The most likely digit's row is bold, but laid out like the others (its bar not shifted).
    boxes = [bars.nth(k).locator(".bar").bounding_box() for k in range(10)]
    lefts = {round(b["x"]) for b in boxes if b}
    widths = {round(b["width"]) for b in boxes if b}
    assert len(lefts) == 1 and len(widths) == 1, f"a row is laid out differently: {lefts} {widths}"
    # A cancelled run that trained kept its weights: the pad asks it instead.
    page.click(f'#runs-table tr[data-run="{cancelled}"] button.link')
    page.wait_for_function(f"document.querySelector('#view-train').dataset.runId === '{cancelled}'")
    if httpx.get(f"{lab.url}/train/{cancelled}").json()["has_weights"]:
        expect(page.locator("#pad-result")).to_contain_text("The network says")
    else:
        expect(bars).to_have_count(0)
        expect(page.locator("#pad-result")).to_contain_text("Open a finished run that has weights")


def test_the_page_takes_running_from_the_event_not_from_progress(lab: Lab) -> None:
    """The status shown follows the log's `running` event; progress alone no longer implies it."""
    url = lab.url
    run_id = httpx.post(f"{url}/train", json={"iterations": 300, "batch_size": BATCH}).json()["id"]
    text, _ = events(f"{url}/train/{run_id}/events")
    blocks = [b for b in text.split("\n\n") if b.strip() and not b.startswith("retry")]
    blocks = [b for b in blocks if not b.startswith("event: queued\n")]  # not from the log
    assert blocks[0].startswith("event: running\n"), blocks[0]
    record = httpx.get(f"{url}/train/{run_id}").json()
    # The page is shown the run as queued, then given only some of its events.
    queued = {**record, "status": "queued", "history": {"loss": [], "epochs": []}}
    shown: list[str] = []

    def fulfill_events(route: Route) -> None:
        body = "retry: 200\n\n" + "".join(b + "\n\n" for b in shown)
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    lab.page.route(f"**/train/{run_id}", lambda route: route.fulfill(json=queued))
    lab.page.route(f"**/train/{run_id}/events", fulfill_events)

    shown[:] = [b for b in blocks if "event: progress" in b]
    page = lab.open("#view=train")  # the newest run is opened
    page.wait_for_function("Number(document.querySelector('#loss-chart').dataset.points) > 0")
    assert page.locator("#view-train").get_attribute("data-run-id") == run_id
    assert status(page) == "queued"  # losses arrived, but no worker said it started

    shown[:] = [blocks[0]]
    lab.reload()  # the same address: goto would not load the page again
    wait_status(page, "running")


def looks_at(requests: list[Request], rid: str) -> int:
    """How many of ``requests`` asked for the run's state (GET /train/{rid}, not its events)."""
    return sum(1 for r in requests if r.method == "GET" and r.url.endswith(f"/train/{rid}"))


def block(kind: str, data: dict[str, Any], seq: int | None = None) -> str:
    """One event of a run's stream as the server writes it (``queued`` has no id)."""
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"


def test_the_queue_place_and_the_kept_weights_come_from_the_stream(lab: Lab) -> None:
    """The page follows a queued run's place from the stream's `queued` events and learns from
    `done`'s `has_weights` whether a cancelled run kept its weights, never reading the run's
    record again for either (api.md: the stream's contract).

    A real run is shown to the page as queued (its record) and given a stream written here,
    one state after another: each connection gets the stream as it stands, and the page
    reconnects after 100 ms as it does after any stream that ends.
    """
    url = lab.url
    rid = httpx.post(f"{url}/train", json={"iterations": 300, "batch_size": BATCH}).json()["id"]
    wait_event(url, rid, "done")
    record = httpx.get(f"{url}/train/{rid}").json()
    assert record["has_weights"] is True  # the pad and the insights can ask it
    empty = {"loss": [], "epochs": []}
    queued = {**record, "status": "queued", "queue_position": 2, "history": empty}
    shown: list[str] = []

    def fulfill_events(route: Route) -> None:
        body = "retry: 100\n\n" + "".join(shown)
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    lab.page.route(f"**/train/{rid}", lambda route: route.fulfill(json=queued))
    lab.page.route(f"**/train/{rid}/events", fulfill_events)
    lab.page.clock.install()  # the page's timers run as usual; run_for runs them ahead
    requests: list[Request] = []
    lab.page.on("request", lambda r: requests.append(r))

    shown[:] = [block("queued", {"queue_position": 2})]
    page = lab.open("#view=train")  # the newest run is opened
    assert page.locator("#view-train").get_attribute("data-run-id") == rid
    note = page.locator("#run-note")
    expect(note).to_have_text("Queued — 2 runs ahead of it")
    shown[:] = [block("queued", {"queue_position": 1})]
    expect(note).to_have_text("Queued — 1 run ahead of it")
    shown[:] = [block("queued", {"queue_position": 0})]
    expect(note).to_have_text("Queued — next to start")
    # Its place came from the stream alone: the record was read once, when the run was opened,
    # and no look at it is planned (5 s on the page's clock).
    page.clock.run_for(5000)
    assert looks_at(requests, rid) == 1

    # Cancelled after it trained: `done` says the weights were kept, and the page takes it.
    done = {"status": "cancelled", "iterations": 300, "elapsed_s": 1.0}
    running = block("running", {"attempt": 1}, 1)
    shown[:] = [running, block("done", {**done, "has_weights": True}, 2)]
    wait_status(page, "cancelled")
    expect(note).to_be_hidden()
    expect(page.locator("#run-config")).to_contain_text("the weights it reached are kept")
    expect(page.locator("#insights")).to_have_attribute("data-ready", "true")
    draw_seven(page)
    expect(page.locator("#pad-result")).to_contain_text("The network says")
    page.clock.run_for(5000)
    assert looks_at(requests, rid) == 1

    # Cancelled before it trained: `done` says no weights; nothing to inspect, nothing re-read.
    shown[:] = [running, block("done", {**done, "has_weights": False}, 2)]
    page.click(f'#runs-table tr[data-run="{rid}"] button.link')
    wait_status(page, "cancelled")
    expect(page.locator("#run-config")).to_contain_text("cancelled before it trained")
    expect(page.locator("#insights")).to_have_attribute("data-ready", "false")
    expect(page.locator("#pad-result")).to_contain_text("Open a finished run that has weights")
    page.clock.run_for(5000)
    assert looks_at(requests, rid) == 2  # the second opening's one read


def test_a_diverging_run_shows_its_warning_in_both_languages(lab: Lab) -> None:
    page = lab.open("#view=train")
    page.fill("#t-lr", "100")
    start(page, 300)
    wait_status(page, "completed")
    warning = page.locator("#run-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("The loss diverged: it started at 2.3")
    expect(warning).to_contain_text("lower the learning rate")
    run_id = page.locator("#view-train").get_attribute("data-run-id")
    mark = page.locator(f'#runs-table tr[data-run="{run_id}"] .warn-mark')
    expect(mark).to_have_attribute("title", "the loss diverged")
    page.select_option("#lang-select", "zh")
    expect(warning).to_contain_text("损失发散了")
    expect(mark).to_have_attribute("title", "损失发散")
    page.select_option("#lang-select", "en")
    # reopened from its record (not from the stream), it still carries the warning
    lab.reload()
    expect(page.locator("#run-warning")).to_contain_text("The loss diverged")
