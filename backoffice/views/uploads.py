"""Uploaded files stay in memory, never in a temporary file.

Werkzeug spools a multipart file larger than 500 KB to a temporary file on disk, in clear;
evidence photos must never touch the disk unsealed. ``MAX_CONTENT_LENGTH`` bounds what a
request may hold in memory.
"""

from __future__ import annotations

import io

from flask import Request, request


class InMemoryUploadsRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ):
        return io.BytesIO()


def uploaded_bytes(name: str) -> bytes:
    """The bytes of the form's file field ``name`` (empty when none was sent)."""
    upload = request.files.get(name)
    return upload.read() if upload is not None else b""
