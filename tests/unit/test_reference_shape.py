"""Only a well-formed reference reaches a query (a form may send anything, NUL included)."""

from backoffice.services.references import format_reference, is_reference


def test_a_report_reference_has_its_shape():
    assert is_reference(format_reference("J", 2026, 110), "J")
    assert not is_reference(format_reference("A", 2026, 110), "J")
    for sent in ("", "\x00", "J-2026-\x00", "J-2026-12", "J-2026-000110 ", "' OR 1=1 --"):
        assert not is_reference(sent, "J"), repr(sent)
