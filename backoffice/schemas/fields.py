"""Field types: each checks a value, tidies it, and describes itself for the OpenAPI document.

A field declared once, with its limits, gives both the check and its documentation
(``openapi()``, merged into the field's JSON Schema by ``openapi_properties``). Conventions,
the same for every field:

* ``null`` means absent, as does ``""`` for codes, dates and times. An absent required field
  is "This field is required."; an absent optional field loads as ``None`` (or its default).
* Messages are lazy strings: staff read them in their language, the API in English.
  Every error is a fresh list (marshmallow merges error lists in place).
* A value that is not of the expected JSON type is refused with a message, never a crash.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, missing

from backoffice.models.base import utcnow
from backoffice.schemas.base import ParametersSchema
from backoffice.services.bidi import strip_bidi_controls
from backoffice.services.vocabulary import DEPARTMENTS

REQUIRED = _l("This field is required.")
_LANGUAGE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = r"\d{2}:\d{2}(:\d{2})?"


class Declared:
    """Mixin for marshmallow fields: the conventions above, and ``openapi()``."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED}
    blank_is_absent = False

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", not required)
        super().__init__(*args, required=required, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        if self.blank_is_absent and isinstance(value, str) and value == "":
            # In a list, a blank item is a null item; in an object, a missing field.
            value = None if isinstance(self.parent, fields.List) else missing
        return super().deserialize(value, attr, data, **kwargs)

    def make_error(self, key: str, **_kwargs: Any) -> ValidationError:
        if key == "null" and not self.required:
            key = "invalid"  # null where a value is expected (an item of a list)
        return ValidationError([self.error_messages[key]])

    def openapi(self) -> dict:
        """JSON Schema keywords this field adds to what apispec infers from its type."""
        return {}

    def takes_null(self) -> bool:
        """Whether a client may send null (never in a query string or a header)."""
        return self.allow_none and not isinstance(self.root, ParametersSchema)

    def takes_blank(self) -> bool:
        """Whether ``""`` is accepted (as absent, or as a null item of a list): documented
        so, the document never being stricter than the check."""
        if not self.blank_is_absent:
            return False
        return self.allow_none if isinstance(self.parent, fields.List) else not self.required

    def _codes(self, codes: Iterable[str]) -> dict:
        blank = [""] if self.takes_blank() else []
        return {"enum": [*codes, *blank, *([None] if self.takes_null() else [])]}

    def _or_blank(self, *forms: dict) -> dict:
        """The accepted forms of a string, ``""`` among them where it means absent."""
        forms = (*forms, {"const": ""}) if self.takes_blank() else forms
        return forms[0] if len(forms) == 1 else {"anyOf": list(forms)}


def openapi_properties(_converter, field: fields.Field, ret: dict, **_kwargs: Any) -> dict:
    """apispec attribute function: the ``openapi()`` of the project's fields, and ``null``
    among the types only where a client can send it."""
    if not isinstance(field, Declared):
        return {}
    keywords = field.openapi()
    types = ret.get("type")
    if "anyOf" in keywords:  # the field documents its accepted forms itself
        ret.pop("type", None)
        ret.pop("format", None)
        if field.takes_null():
            keywords["anyOf"] = [*keywords["anyOf"], {"type": "null"}]
    elif isinstance(types, list) and not field.takes_null():
        kept = [t for t in types if t != "null"]
        ret["type"] = kept[0] if len(kept) == 1 else kept
    return keywords


def parameter_properties(_converter, field: fields.Field, ret: dict, **_kwargs: Any) -> dict:
    """apispec parameter attribute function: a query parameter whose empty value means
    absent says so (``allowEmptyValue``), as ``?since=&lang=`` is read like no parameter."""
    if isinstance(field, Declared) and ret.get("in") == "query" and field.takes_blank():
        return {"allowEmptyValue": True}
    return {}


def _has_surrogate(text: str) -> bool:
    # json.loads accepts lone surrogates ("\ud800"); they cannot be encoded to UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Text(Declared, fields.String):
    """Text of at most ``max_length`` characters, counted after tidying.

    Tidying collapses runs of white space (``multiline``: keeps the lines, trims the whole);
    with ``tidy=False`` the text is kept as sent (a value for a normaliser). Blank text is
    absent. NUL and unencodable characters are refused.
    """

    default_error_messages = {
        "invalid": _l("Must be text."),
        "characters": _l("Contains characters that are not allowed."),
    }

    def __init__(
        self, max_length: int, *, multiline: bool = False, tidy: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.max_length, self.multiline, self.tidy = max_length, multiline, tidy
        self.error_messages.setdefault(
            "too_long", _l("At most %(max)d characters.", max=max_length)
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if "\x00" in value or _has_surrogate(value):
            raise self.make_error("characters")
        value = strip_bidi_controls(value)
        if self.multiline:
            tidied = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        else:
            tidied = " ".join(value.split())
        if not tidied:
            if self.required:
                raise self.make_error("required")
            return None
        kept = tidied if self.tidy else value
        if len(kept) > self.max_length:
            raise self.make_error("too_long")
        return kept

    def openapi(self) -> dict:
        return {"maxLength": self.max_length} | ({"minLength": 1} if self.required else {})


class Choice(Declared, fields.String):
    """One code of a controlled vocabulary (a sequence, or a dict of code -> label)."""

    blank_is_absent = True

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        self.error_messages.setdefault(
            "invalid", _l("Must be one of: %(values)s.", values=", ".join(self.choices))
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise self.make_error("invalid")
        return value

    def openapi(self) -> dict:
        return self._codes(self.choices)


class Flag(Declared, fields.Boolean):
    """``true`` or ``false``, nothing that looks like one (no 1, "yes" or "true")."""

    default_error_messages = {"invalid": _l("Must be true or false.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PastDate(Declared, fields.Date):
    """A day written YYYY-MM-DD, from ``earliest`` to tomorrow (UTC).

    One day of tolerance: a report sent just after midnight in a time zone ahead of UTC.
    """

    blank_is_absent = True
    default_error_messages = {
        "invalid": _l("Must be a date written YYYY-MM-DD."),
        "future": _l("The date cannot be in the future."),
        "past": _l("The date is too far in the past."),
    }

    def __init__(self, earliest: dt.date, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earliest = earliest

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise self.make_error("invalid")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if day > utcnow().date() + dt.timedelta(days=1):
            raise self.make_error("future")
        if day < self.earliest:
            raise self.make_error("past")
        return day

    def openapi(self) -> dict:
        return self._or_blank({"type": "string", "format": "date"})


class ClockTime(Declared, fields.String):
    """A time of day, HH:MM (seconds allowed)."""

    blank_is_absent = True
    default_error_messages = {"invalid": _l("Must be a time written HH:MM.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.time:
        if not isinstance(value, str) or not re.fullmatch(_TIME, value):
            raise self.make_error("invalid")
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None

    def openapi(self) -> dict:
        return {"pattern": f"^(?:{_TIME})?$" if self.takes_blank() else f"^{_TIME}$"}


class Department(Declared, fields.String):
    """A French department code (75, 2A, 974); ``"1"``, ``" 2a "`` and ``75`` are read too."""

    blank_is_absent = True
    default_error_messages = {
        "type": _l("Must be text."),
        "invalid": _l("Not a French department code (such as 75, 2A or 974)."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1000:
            value = f"{value:02d}"
        if not isinstance(value, str):
            raise self.make_error("invalid" if isinstance(value, int) else "type")
        code = value.strip().upper()
        code = "0" + code if len(code) == 1 and code.isdigit() else code
        if code not in DEPARTMENTS:
            raise self.make_error("invalid")
        return code

    def openapi(self) -> dict:
        codes = {"type": "string", "enum": list(DEPARTMENTS)}
        if isinstance(self.root, ParametersSchema):  # a query string holds text only
            return self._codes(DEPARTMENTS)
        number = {
            "type": "integer",
            "minimum": 1,
            "maximum": 976,
            "description": 'Read as its code: 75 is "75", 1 is "01".',
        }
        return {"anyOf": [codes, number, *([{"const": ""}] if self.takes_blank() else [])]}


class LanguageTag(Declared, fields.String):
    """A BCP 47 language tag, returned in its usual case (``pt-BR``, ``zh-Hant``)."""

    blank_is_absent = True
    default_error_messages = {"invalid": _l("Must be a language code such as fr or pt-BR.")}
    MAX_LENGTH = 35

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if (
            not isinstance(value, str)
            or len(value) > self.MAX_LENGTH
            or not re.fullmatch(_LANGUAGE_TAG, value)
        ):
            raise self.make_error("invalid")
        primary, *rest = value.split("-")
        subtags = [
            s.upper() if len(s) == 2 else s.title() if len(s) == 4 else s.lower() for s in rest
        ]
        return "-".join([primary.lower(), *subtags])

    def openapi(self) -> dict:
        tag = f"(?:{_LANGUAGE_TAG})?" if self.takes_blank() else _LANGUAGE_TAG
        return {"maxLength": self.MAX_LENGTH, "pattern": f"^{tag}$"}


class Items(Declared, fields.List):
    """A JSON array of ``inner`` items, checked one by one (errors at ``path[index]``).

    ``min_items``: fewer is the "required" message. ``max_items``: more is "too_many" (give
    the message). ``unique``: repeated items kept once, in order. ``drop_none``: null and
    blank items are skipped. ``whole``: a bad item is reported once, at the list's own path,
    with the "invalid" message (a repeated query parameter has no positions to speak of).
    """

    default_error_messages = {"invalid": _l("Must be a list.")}

    def __init__(
        self,
        inner: fields.Field,
        *,
        min_items: int = 0,
        max_items: int | None = None,
        unique: bool = False,
        drop_none: bool = False,
        whole: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(inner, **kwargs)
        self.min_items, self.max_items = min_items, max_items
        self.unique, self.drop_none, self.whole = unique, drop_none, whole

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        if len(value) < self.min_items:
            raise self.make_error("required")
        if self.max_items is not None and len(value) > self.max_items:
            raise self.make_error("too_many")
        try:
            items = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            if self.whole:
                raise self.make_error("invalid") from None
            raise
        if self.drop_none:
            items = [item for item in items if item is not None]
        if self.unique:
            items = list(dict.fromkeys(items))
        return items

    def openapi(self) -> dict:
        keywords = {"minItems": self.min_items} if self.min_items else {}
        if self.max_items is not None:
            keywords["maxItems"] = self.max_items
        return keywords


class Token(Declared, fields.String):
    """1 to ``max_length`` printable ASCII characters, without spaces (a client's own key).

    Blank is not absent here: a header sent empty is a mistake worth saying.
    """

    default_error_messages = {"invalid": _l("Must be text.")}

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= self.max_length
            or not all(33 <= ord(ch) <= 126 for ch in value)
        ):
            raise self.make_error("invalid")
        return value

    def openapi(self) -> dict:
        return {"minLength": 1, "maxLength": self.max_length, "pattern": "^[!-~]+$"}


class Object(Declared, fields.Nested):
    """A JSON object checked by a nested schema (its errors under this field's path)."""

    default_error_messages = {"invalid": _l("Must be an object.")}


__all__ = [
    "REQUIRED",
    "Choice",
    "ClockTime",
    "Declared",
    "Department",
    "Flag",
    "Items",
    "LanguageTag",
    "Object",
    "PastDate",
    "Text",
    "Token",
    "openapi_properties",
    "parameter_properties",
]
