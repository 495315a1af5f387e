"""How long a learner waits for each chapter-6 page's runs at the book's settings.

A real server (2 training workers, the default) and the real page in Debian's Chromium: each
page's Start button is clicked with its default length (the book's 2,000 iterations, 201
epochs, 500 for the vanishing pair) and the wall time until every run of the set has ended is
measured, with each run's own training time (its `done` event's elapsed_s). The reference,
measured in the same run: the chapter-5 TwoLayerNet (784-50-10) for 2,000 iterations at batch
128 through the same server.

Usage: MNIST_DIR=../shared/data/mnist .venv/bin/python -m benchmarks.bench_ch6_sets
       [--pages init,optim,overfit,vanishing]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import serve  # noqa: E402

PAGES = ["init", "optim", "overfit", "vanishing"]
DONE = (
    "[...document.querySelectorAll('#ch6-runs li')].length > 0 && "
    "[...document.querySelectorAll('#ch6-runs li')]"
    ".every((li) => !['waiting', 'queued', 'running'].includes(li.dataset.status))"
)


def reference(url: str) -> float:
    """Wall seconds of one TwoLayerNet run of 2,000 iterations at batch 128 (POST to done)."""
    start = time.perf_counter()
    body = {"iterations": 2000, "batch_size": 128, "learning_rate": 0.01, "seed": 0}
    rid = httpx.post(f"{url}/train", json=body).json()["id"]
    while httpx.get(f"{url}/train/{rid}").json()["status"] in ("queued", "running"):
        time.sleep(0.05)
    return time.perf_counter() - start


def main() -> None:
    """Click each page's Start and print how long its set takes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--screenshots", type=Path, help="write ch6-<page>.png of each page here")
    args = parser.parse_args()
    pages = args.pages.split(",")
    with serve({}) as (url, _pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page = context.new_page()
        ref = reference(url)
        print(f"reference: TwoLayerNet 784-50-10, 2,000 iterations at batch 128: {ref:.1f} s")
        for key in pages:
            page.goto(f"{url}/#view=experiments&exp={key}")
            page.wait_for_selector("body[data-ready=true]")
            start = time.perf_counter()
            page.click("#ch6-start")
            page.wait_for_function(DONE, timeout=1_800_000, polling=200)
            wall = time.perf_counter() - start
            rows = page.locator("#ch6-runs li")
            runs = []
            for i in range(rows.count()):
                rid = rows.nth(i).get_attribute("data-id")
                run = httpx.get(f"{url}/train/{rid}").json()
                runs.append(f"{rows.nth(i).get_attribute('data-run')} {run['elapsed_s']:.1f} s")
            print(f"{key}: {rows.count()} runs, {wall:.1f} s from the click to the last done "
                  f"({wall / ref:.1f}x the reference); each: {', '.join(runs)}")  # fmt: skip
            if args.screenshots:
                page.locator('#ch6-quiz [data-quiz="skip"]').click()
                page.screenshot(path=str(args.screenshots / f"ch6-{key}.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
