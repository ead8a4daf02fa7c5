"""The pages of ``mlgate site`` in a real browser: Debian's chromium, headless, driven by
playwright-core (tests/site_runner.js), served by ``mlgate ui``'s server on 127.0.0.1.
Every page loads with no console message, no page error, no failed request and no request
anywhere but that server; the version table is ``mlgate history --format json``; each
chart is an ``<svg>`` with one point per value and its text alternative; hostile names and
messages stay text; Tab reaches every link. Screenshots of the index and a model page, in
light and dark, go to tests/.artifacts/ (CI uploads the folder).

Skipped, saying why, where chromium, node or playwright-core are missing (tests/browser.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from browser import ARTIFACTS, SiteBrowser, site_unavailable
from mlgate.commands import site
from mlgate.commands.history import list_versions
from mlgate.render.history import render as render_history
from mlgate.render.site import model_slug
from sites import (
    HOSTILE_CARD,
    HOSTILE_DIR,
    HOSTILE_MESSAGE,
    HOSTILE_METRIC,
    HOSTILE_MODEL,
    hostile_project,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """A hostile project's site, served by `mlgate ui`'s server: (repo, origin, shas)."""
    reason = site_unavailable()
    if reason is not None:
        pytest.skip(reason)
    repo = tmp_path_factory.mktemp("site") / "repo"
    repo.mkdir()
    from conftest import git  # the module-scoped fixture cannot use `repo`

    with pytest.MonkeyPatch.context() as patch:
        # A cache of its own (conftest's is per test): never the user's compiled templates.
        patch.setenv("MLGATE_CACHE_DIR", str(repo.parent / "cache"))
        git(repo, "init", "-q", "-b", "main")
        shas = hostile_project(repo)
        server = site.ui_server(repo, port=0, out=repo.parent / "served")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield repo, f"http://127.0.0.1:{server.server_address[1]}", shas
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def chromium(served: tuple[Path, str, dict[str, str]]) -> Iterator[SiteBrowser]:
    started = SiteBrowser(served[1])
    try:
        yield started
    finally:
        started.close()


def every_page(origin: str, chromium: SiteBrowser) -> dict[str, dict[str, Any]]:
    """Crawl the site from its index, following every link to a page of it."""
    seen: dict[str, dict[str, Any]] = {}
    queue = [f"{origin}/index.html"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen[url] = chromium.visit(url)
        for link in seen[url]["links"]:
            page = urljoin(url, link).split("#", 1)[0]
            if urlsplit(page).path.endswith(".html") and page not in seen:
                queue.append(page)
    return seen


def test_every_page_loads_cleanly_and_asks_nothing_from_elsewhere(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    _, origin, shas = served
    pages = every_page(origin, chromium)
    paths = {urlsplit(u).path for u in pages}
    assert {"/index.html", "/models/churn/index.html", "/models/churn/v4.html"} <= paths
    assert f"/commits/{shas['evil'][:2]}.html" in paths
    for url, page in pages.items():
        # visit() asserted no console message, page error, failed or outside request.
        assert all(r.startswith(origin + "/") for r in page["requests"]), url
        assert page["active"] == [], (url, page["active"])  # no script, img, handler


def test_the_version_table_is_mlgate_history(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    repo, origin, _ = served
    page = chromium.visit(f"{origin}/models/churn/index.html")
    history = json.loads(render_history(list_versions(repo, "churn"), "churn", "json"))
    expected = list(reversed(history["versions"]))  # the page lists newest first
    rows = page["version_rows"]
    assert [(r["version"], r["tag"], r["kind"], r["source"], r["commit"]) for r in rows] == [
        (str(v["version"]), v["tag"], v["kind"], v["source_commit"], v["commit"]) for v in expected
    ]
    assert [r["current"] for r in rows] == [True] + [False] * (len(rows) - 1)
    assert [r["cells"][3] for r in rows] == [
        f"#{v['pull_request']}" if v["pull_request"] else "—" for v in expected
    ]
    assert "rollback of v1" in rows[1]["cells"][4]


def test_each_chart_is_an_svg_with_a_point_per_value_and_a_text_alternative(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    _, origin, _ = served
    page = chromium.visit(f"{origin}/models/churn/index.html")
    charts = {svg["id"]: svg for svg in page["svgs"]}
    # The config gates accuracy: one chart across the 4 versions, one across the 3 commits.
    assert set(charts) == {"v-0", "c-0"}
    assert (charts["v-0"]["points"], charts["c-0"]["points"]) == (4, 3)
    for svg in charts.values():
        assert svg["data_points"] == str(svg["points"])
        assert svg["labelledby"] == f"{svg['id']}-title {svg['id']}-desc"
        assert "accuracy" in svg["title"] and "lowest" in svg["desc"]
        assert svg["width"] > 300  # drawn, not collapsed


def test_hostile_names_messages_and_cards_stay_text(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    _, origin, shas = served
    index = chromium.visit(f"{origin}/index.html")
    assert HOSTILE_MODEL in index["text"] and HOSTILE_DIR in index["text"]
    evil = chromium.visit(f"{origin}/models/{model_slug(HOSTILE_MODEL)}/index.html")
    assert HOSTILE_METRIC in evil["text"] and HOSTILE_MESSAGE in evil["text"]
    card = chromium.visit(f"{origin}/models/{model_slug(HOSTILE_DIR)}/v1.html")
    assert HOSTILE_CARD.split("\n")[0] in card["text"]
    commits = chromium.visit(f"{origin}/commits/{shas['evil'][:2]}.html")
    assert HOSTILE_MESSAGE in commits["text"]
    for page in (index, evil, card, commits):
        assert page["active"] == []
        assert not any(link.lower().startswith("javascript:") for link in page["links"])


def test_tab_reaches_every_link(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    _, origin, _ = served
    for path in ("/index.html", "/models/churn/index.html", "/models/churn/v2.html"):
        page = chromium.visit(origin + path, tab=True)
        assert set(page["links"]) <= set(page["tabbed"]), path
        assert page["tabbed"][0].endswith("#main")  # the skip link comes first


def test_screenshots_of_the_index_and_a_model_page_in_light_and_dark(
    served: tuple[Path, str, dict[str, str]], chromium: SiteBrowser
) -> None:
    _, origin, _ = served
    for scheme in ("light", "dark"):
        for name, path in (("index", "/index.html"), ("model", "/models/churn/index.html")):
            shot = ARTIFACTS / f"site-{name}-{scheme}.png"
            shot.unlink(missing_ok=True)
            chromium.visit(origin + path, screenshot=shot, scheme=scheme)
            assert shot.stat().st_size > 5000
