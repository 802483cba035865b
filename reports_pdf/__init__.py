"""WeasyPrint documents: templates, styles and the builder.

Two rules keep printing safe:

* Templates get primitive values only (str, int, lists and dicts of them), never ORM objects,
  so a template cannot lazy-load data it was not meant to show.
* WeasyPrint fetches nothing from outside: ``AssetFetcher`` serves files of
  ``reports_pdf/static`` under the ``asset:`` scheme and refuses every other URL (http,
  file, data included), so a value in a document can never make the server read a local
  file or call a remote address. Fonts come from the system (fontconfig), not URLs.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from backoffice.services.bidi import isolate

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
ASSET_SCHEME = "asset:"

_environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["isolate"] = isolate


def sentence(line: dict) -> Markup:
    """A translated sentence with its values (``{"text": ..., "values": {...}}``): the text
    escaped, each value isolated, so a date, a time or a reference keeps its order in a
    right-to-left page."""
    values = {name: isolate(value) for name, value in line["values"].items()}
    return Markup(escape(line["text"])) % values if values else escape(line["text"])  # noqa: S704 - escaped text, isolated values


_environment.filters["sentence"] = sentence


class RefusedURL(ValueError):
    """A document asked for something that is not one of the project's own assets."""


def asset_path(url: str) -> Path:
    """The file an ``asset:`` URL names, inside ``static`` only; RefusedURL otherwise."""
    if not url.startswith(ASSET_SCHEME):
        raise RefusedURL("Only the project's own assets can be used in a document.")
    relative = url[len(ASSET_SCHEME) :].lstrip("/")
    path = (STATIC_DIR / relative).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise RefusedURL("Unknown asset.")
    return path


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class AssetFetcher(URLFetcher):
        """Serves ``asset:`` files from ``reports_pdf/static``; refuses everything else."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)

        def fetch(self, url, headers=None):
            path = asset_path(url)
            mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": mime_type}
            )

    return AssetFetcher


def render_html(template: str, **context: object) -> str:
    return _environment.get_template(template).render(**context)


def html_document(html: str):
    """The laid-out WeasyPrint document of ``html`` (its ``pages``, then ``write_pdf()``);
    stylesheets and images only through ``asset:`` URLs."""
    from weasyprint import HTML

    # WeasyPrint warns about every refused URL and font detail; keep the logs quiet.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fetcher = _fetcher_class()()
    return HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher).render()


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html``; stylesheets and images only through ``asset:`` URLs."""
    return html_document(html).write_pdf()


def render_pdf(template: str, **context: object) -> bytes:
    return html_to_pdf(render_html(template, **context))
