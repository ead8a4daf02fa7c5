"""``mlgate site`` with hostile values wherever a pull request's author or a note's writer
chooses them (model, metric and directory names, commit messages, model cards): every page
parsed as a browser would, nothing active anywhere, each value back as the text it was, no
file written outside the site. The same site in chromium: tests/render/test_site_browser.py.
"""

from __future__ import annotations

from pathlib import Path

from mlgate.commands import site
from mlgate.render.site import model_slug
from sites import (
    HOSTILE_CARD,
    HOSTILE_DIR,
    HOSTILE_MESSAGE,
    HOSTILE_METRIC,
    HOSTILE_MODEL,
    Page,
    hostile_project,
)

# Every element mlgate's templates and charts write: anything else on a page came from a value.
WRITTEN = set(
    [
        "html",
        "head",
        "meta",
        "title",
        "link",
        "body",
        "a",
        "header",
        "nav",
        "main",
        "footer",
        "h1",
        "h2",
        "h3",
        "p",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "strong",
        "span",
        "div",
        "section",
        "figure",
        "figcaption",
        "svg",
        "desc",
        "g",
        "path",
        "text",
        "polyline",
        "circle",
        "dl",
        "dt",
        "dd",
        "time",
        "details",
        "summary",
        "pre",
    ]
)


def pages(out: Path) -> dict[str, Page]:
    return {p.relative_to(out).as_posix(): Page(p.read_text()) for p in out.rglob("*.html")}


def test_hostile_values_stay_text_on_every_page(repo: Path) -> None:
    hostile_project(repo)
    out = repo / "public"
    site.build(repo, "public")
    found = pages(out)
    text = {name: "".join(page.text) for name, page in found.items()}
    for name, page in found.items():
        for tag, attrs in page.tags:
            # The page's own <meta> tags (charset, viewport, color scheme, CSP) only.
            if tag == "meta":
                assert set(attrs) <= {"charset", "name", "content", "http-equiv"}, name
                continue
            assert tag in WRITTEN, (name, tag, attrs)
            for key, value in attrs.items():
                assert not key.startswith("on"), (name, tag, key)
                assert "javascript:" not in (value or "").lower(), (name, tag, key)
            href = attrs.get("href") or ""
            assert "://" not in href and not href.startswith("//"), (name, href)
    everything = "".join(text.values())
    for value in (HOSTILE_MODEL, HOSTILE_METRIC, HOSTILE_MESSAGE, HOSTILE_DIR):
        assert value in everything, value
    card = text[f"models/{model_slug(HOSTILE_DIR)}/v1.html"]
    assert HOSTILE_CARD in card


def test_hostile_names_never_choose_a_path(repo: Path) -> None:
    hostile_project(repo)
    site.build(repo, "public")
    written = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    outside = {p for p in written if not p.startswith(("public/", ".git/"))}
    assert outside <= {"mlgate.yaml", "x.txt", "z.txt", ".public.lock"}, outside
    for name in (HOSTILE_MODEL, HOSTILE_DIR):
        slug = model_slug(name)
        assert slug.startswith("model-") and (repo / "public" / "models" / slug).is_dir()
    assert {p.name for p in (repo / "public" / "models").iterdir()} == {
        "churn",
        model_slug(HOSTILE_MODEL),
        model_slug(HOSTILE_DIR),
    }


def test_a_page_allows_no_script_by_its_content_security_policy(repo: Path) -> None:
    hostile_project(repo)
    site.build(repo, "public")
    for name, page in pages(repo / "public").items():
        policies = [
            a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
        ]
        assert policies and "default-src 'none'" in (policies[0] or ""), name
        assert "script-src" not in (policies[0] or ""), name
