"""The page's address, one table both ways (static/js/url-state.js): what it reads, what it
writes, and that the page writes its address through it."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Lab

#: Every parameter of the address, in the order the table writes them.
NAMES = ["view", "g", "p", "tour", "mode", "ask", "exp"]
DEFAULTS = {"view": "graph", "g": "", "p": "", "tour": None, "mode": None, "ask": None, "exp": None}


def url_state(lab: Lab, script: str, arg: Any = None) -> Any:
    """Run ``script`` (the body of a function of ``u``, the module, and ``arg``) in the page."""
    return lab.page.evaluate(
        f"async (arg) => {{ const u = await import('/static/js/url-state.js'); {script} }}", arg
    )


def structure(lab: Lab, text: str) -> Any:
    """The graph a ``g`` parameter carries, without its nodes' places."""
    return lab.page.evaluate(
        """async (text) => {
            const m = await import('/static/js/graph-model.js');
            const g = m.decodeFromUrl(text);
            return {...g, nodes: g.nodes.map(({x, y, ...rest}) => rest)};
        }""",
        text,
    )


def test_the_table_reads_and_writes_every_parameter(lab: Lab) -> None:
    lab.open("#view=graph")
    table = url_state(lab, "return u.PARAMS.map((p) => [p.name, p.type, p.fallback]);")
    assert [name for name, _, _ in table] == NAMES
    assert {name: fallback for name, _, fallback in table} == DEFAULTS
    assert {name: kind for name, kind, _ in table} == {
        "view": "choice",
        "g": "text",
        "p": "text",
        "tour": "integer",
        "mode": "choice",
        "ask": "choice",
        "exp": "text",
    }

    # Nothing: every default.
    assert url_state(lab, "return u.readUrl('');") == DEFAULTS
    # Every parameter, read with its type.
    full = "#view=train&g=abc-_.&p=apples&tour=3&mode=exercise&ask=forward&exp=init"
    state = url_state(lab, "return u.readUrl(arg);", full)
    assert state == {
        "view": "train",
        "g": "abc-_.",
        "p": "apples",
        "tour": 3,
        "mode": "exercise",
        "ask": "forward",
        "exp": "init",
    }
    # Written back, the same address; read again, the same state.
    assert url_state(lab, "return u.urlHash(u.readUrl(arg));", full) == full
    assert url_state(lab, "return u.readUrl(u.urlHash(arg));", state) == state
    # What a parameter cannot be reads as its default, and is never written.
    odd = "#view=nowhere&tour=0&mode=play&ask=back&exp="
    assert url_state(lab, "return u.readUrl(arg);", odd) == DEFAULTS
    assert url_state(lab, "return u.readUrl('#tour=2.5').tour;") is None
    assert url_state(lab, "return u.readUrl('#tour=-1').tour;") is None
    bad = {"view": "nowhere", "tour": 0, "mode": "play", "ask": "back", "exp": ""}
    assert url_state(lab, "return u.urlHash(arg);", bad) == "#"
    # Left out: what is not given, and empty text.
    assert url_state(lab, "return u.urlHash({view: 'graph', g: '', p: 'apples'});") == (
        "#view=graph&p=apples"
    )


def test_the_page_writes_its_address_through_the_table(lab: Lab) -> None:
    page = lab.open("#view=graph&tour=3")
    page.wait_for_function("location.hash.includes('tour=3')")
    # The page's own address is the table's writing of what it reads (nothing else adds to it).
    canonical = "return u.urlHash(u.readUrl(location.hash)) === location.hash;"
    assert url_state(lab, canonical) is True
    state = url_state(lab, "return u.readUrl(location.hash);")
    assert state["view"] == "graph" and state["tour"] == 3 and state["g"]
    graph = structure(lab, state["g"])
    ids = [n["id"] for n in graph["nodes"]]
    assert ids == ["apple", "apple_num", "tax", "apple_price", "price"]

    page.click("[role=tab][data-view=train]")
    page.wait_for_function("location.hash.includes('view=train')")
    assert url_state(lab, canonical) is True
    state = url_state(lab, "return u.readUrl(location.hash);")
    # The graph goes along (where its nodes sit may still change: the layout follows the canvas).
    kept = (state["view"], structure(lab, state["g"]), state["tour"], state["exp"])
    assert kept == ("train", graph, 3, None)

    page.click("[role=tab][data-view=experiments]")
    page.wait_for_function("location.hash.includes('exp=')")
    assert url_state(lab, canonical) is True
    assert url_state(lab, "return u.readUrl(location.hash).exp;") == "race"
