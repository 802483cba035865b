"""What every schema shares: messages in two languages, error paths, and the base classes.

* ``Message``: one validation message. Staff read it in their language (``str(message)``);
  the API answers in English (``message.in_english()``).
* ``ValidationFailed``: a refused body; ``errors`` maps field paths (``incident.date``,
  ``aggressor.identifiers[1].value``; ``""`` for the body itself) to lists of messages.
* ``load(schema, data)``: the one way to validate: the schema's result, or ValidationFailed.
* ``RequestSchema``: a request body. Unknown fields are refused at every level ("Unknown
  field."), so a misspelt optional field is never dropped silently. ``ParametersSchema``: query
  strings and headers, where unknown names are ignored (caches and proxies add their own).
  Each says how the API refuses it (``refusal``: status, code and sentence).
* ``AnswerSchema``: what an endpoint answers; every field is documented as present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

SCHEMA_KEY = "_schema"  # marshmallow's key for errors of the object itself


class Message:
    """A validation message: shown in the user's language, or in English for the API.

    ``english`` overrides the English rendering when a more precise English sentence exists
    (the identifier normaliser's own explanation), while staff see the translated one.
    """

    __slots__ = ("english", "lazy")

    def __init__(self, lazy: Any, english: str | None = None) -> None:
        self.lazy = lazy
        self.english = english

    def __str__(self) -> str:
        return str(self.lazy)

    def __repr__(self) -> str:
        return f"Message({self.in_english()!r})"

    def in_english(self) -> str:
        if self.english is not None:
            return self.english
        with force_locale("en"):
            return str(self.lazy)


class ValidationFailed(Exception):
    """The data breaks one or more rules; ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[Message]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")  # paths only, never values
        self.errors = errors

    def in_english(self) -> dict[str, list[str]]:
        return {path: [m.in_english() for m in messages] for path, messages in self.errors.items()}

    def localised(self) -> dict[str, list[str]]:
        return {path: [str(m) for m in messages] for path, messages in self.errors.items()}


def error_paths(messages: Any, path: str = "") -> dict[str, list[Message]]:
    """marshmallow's nested errors, flattened: ``{"incident": {"date": [...]}}`` becomes
    ``{"incident.date": [...]}`` and list positions read ``identifiers[1]``."""
    if not isinstance(messages, dict):
        items = messages if isinstance(messages, list) else [messages]
        return {path: [m if isinstance(m, Message) else Message(m) for m in items]}
    flat: dict[str, list[Message]] = {}
    for key, value in messages.items():
        if key == SCHEMA_KEY:
            inner = path
        elif isinstance(key, int):
            inner = f"{path}[{key}]"
        else:
            inner = f"{path}.{key}" if path else str(key)
        for found, listed in error_paths(value, inner).items():
            flat.setdefault(found, []).extend(listed)
    return flat


def load(schema: Schema, data: object) -> Any:
    """``schema.load(data)``, or ValidationFailed listing every problem by field path."""
    try:
        return schema.load(data)
    except ValidationError as error:
        raise ValidationFailed(error_paths(error.messages)) from None


@dataclass(frozen=True)
class Refusal:
    """How the API answers a request part that fails its schema."""

    status: int = 422
    code: str = "validation_failed"
    message: str = "The request was not accepted: correct the fields listed in errors."


class RequestSchema(Schema):
    """A request body: every field checked, unknown fields refused at every level."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": _l("Unknown field."), "type": _l("Must be an object.")}
    refusal = Refusal()


class ParametersSchema(Schema):
    """Query parameters or headers: documented names checked, other names ignored."""

    class Meta:
        unknown = EXCLUDE

    refusal = Refusal()


class AnswerSchema(Schema):
    """An answer body, dumped through the schema: only its declared fields leave."""


class ErrorSchema(AnswerSchema):
    """Every error of the API (shared/API.md): a code, a sentence, and the fields at fault."""

    error = fields.String(required=True, metadata={"description": "A stable code."})
    message = fields.String(required=True, metadata={"description": "A sentence, in English."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={
            "description": "Field path (incident.date, aggressor.identifiers[1].value) -> "
            "messages; empty when no field is at fault."
        },
    )


__all__ = [
    "AnswerSchema",
    "ErrorSchema",
    "Message",
    "ParametersSchema",
    "Refusal",
    "RequestSchema",
    "ValidationFailed",
    "error_paths",
    "load",
]
