"""A light page: answers are gzipped, static files cached and revalidated by ETag, uPlot loaded
only when a view with charts opens, and the graph view's first load at most 200 KB."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Lab
from tests.conftest import Server

#: The graph view's first load, every byte that crossed the network (headers included).
BUDGET = 200 * 1024

#: Everything the page fetched so far: (URL, bytes transferred, body bytes as sent).
ENTRIES = """() => [performance.getEntriesByType("navigation")[0],
  ...performance.getEntriesByType("resource")]
  .map((e) => [e.name, e.transferSize, e.encodedBodySize])"""


def test_static_files_are_gzipped_and_revalidated(ui_server: Server) -> None:
    for path in ("/static/js/app.js", "/static/i18n/zh.json", "/vendor/dagre/dagre.min.js"):
        r = httpx.get(ui_server.url + path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, path
        assert r.headers["content-encoding"] == "gzip", path
        assert r.num_bytes_downloaded < len(r.content) / 2, path
        assert r.headers["cache-control"] == "no-cache", path
        etag = r.headers["etag"]
        again = httpx.get(ui_server.url + path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        head = httpx.head(ui_server.url + path)
        assert head.status_code == 200, path
        assert head.headers["etag"] == etag
    # A client that does not ask for gzip gets the plain file.
    plain = httpx.get(ui_server.url + "/static/js/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text.startswith("// @ts-check")
    # The page and the API's answers are compressed too.
    page = httpx.get(ui_server.url + "/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert "Backprop Lab" in page.text


def test_graph_view_first_load_is_light(lab: Lab) -> None:
    page = lab.open()
    page.wait_for_load_state("networkidle")
    entries = page.evaluate(ENTRIES)
    total = sum(size for _, size, _ in entries)
    print(f"graph view first load: {total / 1024:.1f} KB transferred in {len(entries)} requests")
    assert all(size > 0 for _, size, _ in entries), entries  # nothing came from a cache
    assert total <= BUDGET, sorted(entries, key=lambda e: -e[1])
    assert not [url for url, _, _ in entries if "uplot" in url.lower()]
    # Training opens: uPlot and its stylesheet load then, and the charts draw.
    # Neither do the Training and Gradient check views: they load when first opened.
    assert not [url for url, _, _ in entries if "/train-" in url or "gradcheck-view" in url]
    page.click("#tab-train")
    expect(page.locator("link[href='/vendor/uplot/uPlot.min.css']")).to_have_count(1)
    expect(page.locator("#t-start")).to_be_enabled()  # the view is wired: Start works
    lab.quiet()
    loaded = [url for url, _, _ in page.evaluate(ENTRIES)]
    assert any(url.endswith("uPlot.esm.js") for url in loaded), loaded
    assert any(url.endswith("/train-view.js") for url in loaded), loaded
    # A second load revalidates: every static file is a body-less 304 (headers only).
    lab.reload()
    lab.quiet()
    again = page.evaluate(ENTRIES)
    static = [e for e in again if "/static/" in e[0] or "/vendor/" in e[0]]
    assert static and all(0 < size < 1500 for _, size, _ in static), static
