"""The dossier for the police or a lawyer (French): the aggressor's details, and her testimony
and the evidence only if her consent covers them, watermarked on every page with the
recipient, the date and the dossier's reference.

The evidence images are served to WeasyPrint from memory (``memory:evidence/<n>``), never
from a file; every other URL goes through the project's ``AssetFetcher`` rules.
"""

from __future__ import annotations

import logging

from reports_pdf import ASSET_SCHEME, _fetcher_class, render_html

TEMPLATE = "dossier.html"
MEMORY_PREFIX = "memory:evidence/"


def _fetcher(images: list[tuple[bytes, str]]):
    from weasyprint.urls import URLFetcherResponse

    class MemoryFetcher(_fetcher_class()):
        def fetch(self, url, headers=None):
            if url.startswith(MEMORY_PREFIX):
                index = int(url[len(MEMORY_PREFIX) :])
                data, content_type = images[index]
                return URLFetcherResponse(url, body=data, headers={"Content-Type": content_type})
            return super().fetch(url, headers)

    return MemoryFetcher()


def render_dossier(context: dict, images: list[tuple[bytes, str]]) -> bytes:
    """The dossier's PDF bytes."""
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    sources = [f"{MEMORY_PREFIX}{index}" for index in range(len(images))]
    html = render_html(TEMPLATE, images_src=sources, **context)
    return HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=_fetcher(images)).write_pdf()
