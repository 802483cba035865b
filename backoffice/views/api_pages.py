"""``GET /api/v1/pages`` and ``GET /api/v1/pages/{slug}``: published information sheets."""

from __future__ import annotations

from backoffice.schemas.pages import PageListSchema, PageSchema, PagesQuerySchema
from backoffice.services import information
from backoffice.views.api import Answer, ApiError, api_operation

_DESCRIPTION = (
    "Published sheets only. A sheet with no up-to-date published version in lang (missing, "
    "or outdated since the French changed) is given in French with fallback true."
)


@api_operation(
    "GET",
    "/pages",
    summary="Published information sheets",
    description=_DESCRIPTION,
    query=PagesQuerySchema,
    answers={200: Answer(PageListSchema, "Every published sheet, in lang or in French.")},
)
def list_pages(query: dict) -> dict:
    language = query["lang"]
    items = information.published(language)
    return {"language": language, "pages": [information.page_item(item) for item in items]}


@api_operation(
    "GET",
    "/pages/<slug>",
    summary="One published information sheet",
    description=_DESCRIPTION,
    query=PagesQuerySchema,
    answers={200: Answer(PageSchema, "The sheet, with its Markdown body and its sources.")},
    errors={404: "No published sheet has this slug."},
)
def get_page(query: dict, slug: str) -> dict:
    item = information.published_by_slug(slug[:80], query["lang"])
    if item is None:
        raise ApiError(404, "not_found", "No published sheet has this slug.")
    return information.page_item(item, full=True)
