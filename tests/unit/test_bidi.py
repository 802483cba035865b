"""Right to left: numbers, plates and references keep their reading order in Arabic views."""

from __future__ import annotations

from types import SimpleNamespace

from flask import render_template

from backoffice.services.bidi import isolate


def test_a_phone_number_is_isolated_left_to_right():
    assert str(isolate("+33 2 61 91 97 82")) == '<bdi dir="ltr">+33 2 61 91 97 82</bdi>'


def test_arabic_text_keeps_its_own_direction_and_is_escaped():
    assert str(isolate("رجل")) == "<bdi>رجل</bdi>"
    assert str(isolate("<b>AB-123-CD</b>")) == '<bdi dir="ltr">&lt;b&gt;AB-123-CD&lt;/b&gt;</bdi>'
    assert str(isolate(None)) == ""


def test_the_arabic_preview_isolates_numbers_and_plates(app_context):
    rendered = SimpleNamespace(
        direction="rtl",
        title="تنبيه",
        summary="",
        summary_is_fallback=False,
        sections=[("", [("الهاتف", "+33 2 61 91 97 82"), ("اللوحة", "AB-123-CD")])],
    )
    with app_context.test_request_context("/"):
        page = render_template(
            "moderation/_previews.html",
            previews={"ar": rendered},
            language_names={"ar": "العربية"},
            active_lang="ar",
        )
    assert 'dir="rtl"' in page
    assert '<bdi dir="ltr">+33 2 61 91 97 82</bdi>' in page
    assert '<bdi dir="ltr">AB-123-CD</bdi>' in page
