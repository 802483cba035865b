"""``GET /api/v1/structures``: the public directory (shared/API.md), verified entries only."""

from __future__ import annotations

from backoffice.schemas.structures import StructureFeedSchema, StructuresQuerySchema
from backoffice.services import public_directory
from backoffice.views.api import Answer, api_operation


@api_operation(
    "GET",
    "/structures",
    summary="The public directory of structures",
    description=(
        "Verified structures only (verification: due when last checked more than a year "
        "ago), public fields only, 50 per page; follow next_cursor. With near, each entry "
        "has distance_km and the list is sorted by it; entries without coordinates are left "
        "out. Service labels are in the language asked for."
    ),
    query=StructuresQuerySchema,
    answers={200: Answer(StructureFeedSchema, "A page of structures.")},
)
def list_structures(query: dict) -> dict:
    rows, following = public_directory.feed(
        departments=query.get("department") or [],
        services=query.get("service") or [],
        near=query.get("near"),
        language=query["lang"],
        offset=query.get("cursor") or 0,
    )
    return {
        "structures": rows,
        "next_cursor": str(following) if following is not None else None,
    }
