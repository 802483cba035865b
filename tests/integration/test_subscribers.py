"""Subscribers: registration rules, the organisation boundary, import, counts, unsubscribing
by link and by STOP, and erasure of contacts."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import select

from backoffice.demo import ACCEPTESS, AIDES
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.services import subscribers
from backoffice.services.crypto import DecryptionError
from tests.conftest import csrf_token
from tests.integration.dispatch_support import organisation, unique_email, unique_mobile

SECRET = "inbound-secret-for-tests"


def data(**overrides) -> dict:
    values = {
        "pseudonym": "Lila",
        "phone": unique_mobile(),
        "email": "",
        "language": "pt",
        "departments": "75 93",
    }
    values.update(overrides)
    return values


def register(org_name=AIDES, **overrides) -> Subscriber:
    row = subscribers.register(data(**overrides), organisation(org_name).id)
    db.session.flush()
    return row


# --- registration rules ------------------------------------------------------------------------


def test_her_pseudonym_is_sealed_outlives_her_contact_erasure_and_is_still_found(app_context):
    """Issue 12, finding 12: the pseudonym is absent from the database file or dump."""
    import secrets

    from tests.integration.test_intake_storage import _database_bytes

    pseudonym = "Zelie" + "".join(secrets.choice("bcdfghjklm") for _ in range(8))
    row = register(pseudonym=pseudonym)
    db.session.commit()
    assert row.pseudonym_sealed.startswith("v1:r:")
    assert pseudonym.encode() not in _database_bytes(app_context)
    page = subscribers.organisation_page(
        subscribers_actor(), query=pseudonym[2:9].upper(), page=1, size=10
    )
    assert [s.id for s in page.items] == [row.id]
    subscribers.erase_contact(row)
    db.session.commit()
    db.session.expire_all()
    assert row.pseudonym == pseudonym and row.phone is None


def subscribers_actor():
    from backoffice.security import acting_for

    return acting_for(organisation(AIDES).id)


def test_contact_details_are_sealed_and_indexed_never_stored_in_clear(app_context):
    phone = unique_mobile()
    row = register(phone=phone, email=unique_email())
    db.session.commit()
    raw = db.session.execute(
        select(Subscriber.phone_sealed, Subscriber.email_sealed, Subscriber.phone_index).where(
            Subscriber.id == row.id
        )
    ).one()
    assert raw.phone_sealed.startswith("v1:d:") and phone not in raw.phone_sealed
    assert raw.email_sealed.startswith("v1:d:")
    assert raw.phone_index == subscribers.phone_index(phone)
    assert row.phone == phone and row.status == "pending"
    assert subscribers.find_by_phone(phone.replace("+33", "0")).id == row.id


def test_an_email_is_never_required_but_one_channel_is(app_context):
    assert register(email="").channels == ["sms"]
    assert register(phone="", email=unique_email()).channels == ["email"]
    with pytest.raises(subscribers.SubscriberError) as refused:
        register(phone="", email="")
    assert "phone" in refused.value.errors
    db.session.rollback()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "01 45 67 89 10"),  # a landline cannot receive SMS
        ("phone", "12"),
        ("email", "not-an-address"),
        ("language", "de"),
        ("departments", "75 99"),
        ("departments", ""),
        ("pseudonym", ""),
        ("pseudonym", "Call 0612345678"),
    ],
)
def test_bad_registration_data_is_refused_with_the_field_named(app_context, field, value):
    before = db.session.query(Subscriber).count()
    with pytest.raises(subscribers.SubscriberError) as refused:
        register(**{field: value})
    assert field in refused.value.errors
    db.session.rollback()
    assert db.session.query(Subscriber).count() == before


def test_languages_and_departments_are_read_as_people_write_them(app_context):
    row = register(language="Română", departments="6, 2a 13")
    assert row.language == "ro" and row.departments == ["06", "13", "2A"]
    everywhere = register(language="chinois", departments="toute la France")
    assert everywhere.language == "zh" and everywhere.all_departments
    assert everywhere.departments_label  # "All of France"
    db.session.rollback()


def test_the_same_number_cannot_be_registered_twice_even_by_another_association(app_context):
    phone = unique_mobile()
    register(phone=phone)
    db.session.commit()
    with pytest.raises(subscribers.SubscriberError) as refused:
        register(ACCEPTESS, phone=phone.replace("+33", "0"))
    message = str(refused.value.errors["phone"][0])
    assert "AIDES" not in message  # it does not say who holds her
    db.session.rollback()


def test_a_worker_who_left_can_register_again_and_her_old_contact_is_erased(app_context):
    phone = unique_mobile()
    old = register(phone=phone)
    subscribers.unsubscribe(old, "staff")
    db.session.commit()
    sealed_before = old.phone_sealed  # as a backup would still hold it
    new = register(ACCEPTESS, phone=phone)
    db.session.commit()
    assert new.phone == phone
    assert old.phone_index is None and old.phone_sealed is None
    assert old.contact_erased_at is not None and old.data_key.is_destroyed
    old.phone_sealed = sealed_before
    with pytest.raises(DecryptionError):  # crypto-shredded: the old copy is unreadable
        subscribers.contact_for_dispatch(old, "phone")
    db.session.rollback()


def test_validation_queues_a_welcome_sms_in_her_language(app_context):
    row = register(language="uk")
    subscribers.validate(row)
    db.session.commit()
    welcome = db.session.scalars(
        select(Delivery).where(Delivery.subscriber_id == row.id, Delivery.purpose == "welcome")
    ).all()
    assert [(d.channel, d.language, d.status) for d in welcome] == [("sms", "uk", "queued")]
    with pytest.raises(subscribers.SubscriberError):
        subscribers.validate(row)
    db.session.rollback()


def test_unsubscribing_cancels_her_queued_alerts_and_erasure_follows(app_context):
    row = register()
    subscribers.validate(row)
    db.session.commit()
    assert subscribers.unsubscribe(row, "staff") is True
    assert subscribers.unsubscribe(row, "staff") is False
    db.session.commit()
    statuses = {
        d.status
        for d in db.session.scalars(select(Delivery).where(Delivery.subscriber_id == row.id))
    }
    assert statuses == {"cancelled"}
    subscribers.erase_unsubscribed_contacts(now=utcnow())
    db.session.refresh(row)
    assert row.phone_sealed is not None  # kept a day, in case something is still on its way
    subscribers.erase_unsubscribed_contacts(now=utcnow() + dt.timedelta(hours=25))
    db.session.refresh(row)
    assert row.phone_sealed is None and row.phone_index is None and row.contact_erased_at
    details = [
        e.details
        for e in db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.object_type == "Subscriber", AuditEvent.object_id == str(row.id)
            )
        )
    ]
    assert details and all(row.pseudonym not in str(d) for d in details)


def test_counts_hide_small_cells_and_name_nobody(app_context):
    register(language="bg", departments="974")
    counts = subscribers.counts()
    assert set(counts["by_language"]) == {
        "fr",
        "en",
        "es",
        "pt",
        "ro",
        "bg",
        "zh",
        "ru",
        "uk",
        "ar",
    }
    values = [
        str(v)
        for group in ("by_language", "by_department", "by_status")
        for v in counts[group].values()
    ]
    assert all(v == "< 5" or v == "0" or int(v) >= 5 for v in values)
    db.session.rollback()


# --- CSV import --------------------------------------------------------------------------------


def test_csv_import_keeps_good_lines_and_reports_the_others_by_number(app_context):
    good_phone, duplicate = unique_mobile(), unique_mobile()
    register(phone=duplicate)
    db.session.commit()
    text = (
        "pseudonyme;téléphone;courriel;langue;départements\n"
        f"Ana;{good_phone};;pt;75 93\n"
        f"Mei;;{unique_email()};zh;all\n"
        "Bad;06 00;;fr;75\n"
        f"Twice;{duplicate};;fr;75\n"
        ";;;;\n"
        f"Nowhere;{unique_mobile()};;fr;\n"
        f"Again;{good_phone};;fr;13\n"
    )
    report = subscribers.import_csv(text.encode("cp1252", "replace"), organisation(AIDES).id)
    db.session.commit()
    # Line 5's number is registered already: counted like a new one, nothing created (F8).
    assert report.created == 3
    assert [number for number, _reasons in report.rejected] == [4, 7, 8]
    assert subscribers.find_by_phone(duplicate).pseudonym == "Lila"
    assert all(reasons for _number, reasons in report.rejected)
    assert all(good_phone not in " ".join(reasons) for _n, reasons in report.rejected)
    assert subscribers.find_by_phone(good_phone).pseudonym == "Ana"


def test_csv_import_refuses_a_file_without_the_columns(app_context):
    report = subscribers.import_csv(b"name,number\nAna,0612345678\n", organisation(AIDES).id)
    assert report.error and report.created == 0


# --- views: the organisation boundary --------------------------------------------------------


def _post(client, url, form_url, **form):
    return client.post(url, data={"csrf_token": csrf_token(client, form_url), **form})


def test_partners_register_and_manage_their_own_subscribers_only(app, login_as):
    social_a = login_as("demo-social-a")  # AIDES
    phone = unique_mobile()
    response = _post(
        social_a,
        "/subscribers/new",
        "/subscribers/new",
        pseudonym="Viewtest",
        phone=phone,
        language="ro",
        departments="75",
        validate_now="on",
    )
    assert response.status_code == 302
    with app.app_context():
        row = subscribers.find_by_phone(phone)
        subscriber_id, row_status = row.id, row.status
    assert row_status == "active"
    page = social_a.get(f"/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Viewtest" in page and phone[-2:] in page
    listed = social_a.get("/subscribers/?q=Viewtest").get_data(as_text=True)
    assert f"/subscribers/{subscriber_id}" in listed
    relay_a = login_as("demo-relay")  # AIDES too
    assert relay_a.get(f"/subscribers/{subscriber_id}").status_code == 200

    social_b = login_as("demo-social-b")  # Acceptess-T
    listed = social_b.get("/subscribers/?q=Viewtest").get_data(as_text=True)
    assert f"/subscribers/{subscriber_id}" not in listed
    assert social_b.get(f"/subscribers/{subscriber_id}").status_code == 404
    assert social_b.get(f"/subscribers/{subscriber_id}/edit").status_code == 404
    for action in ("pause", "unsubscribe"):
        response = _post(social_b, f"/subscribers/{subscriber_id}/{action}", "/subscribers/new")
        assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "active"

    response = _post(social_a, f"/subscribers/{subscriber_id}/pause", "/subscribers/new")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "paused"


def test_moderators_see_counts_but_no_subscriber(app, login_as):
    with app.app_context():
        register(pseudonym="Countonly")
        db.session.commit()
    moderator = login_as("demo-moderator")
    assert moderator.get("/subscribers/").status_code in (302, 403)
    page = moderator.get("/subscriber-counts/")
    assert page.status_code == 200
    assert "Countonly" not in page.get_data(as_text=True)


def test_form_errors_are_shown_and_nothing_is_saved(app, login_as):
    social_a = login_as("demo-social-a")
    response = _post(
        social_a,
        "/subscribers/new",
        "/subscribers/new",
        pseudonym="Formerror",
        phone="01 45 67 89 10",
        language="fr",
        departments="75",
    )
    assert response.status_code == 200
    assert "has-error" in response.get_data(as_text=True)
    with app.app_context():
        assert not [s for s in db.session.scalars(select(Subscriber)) if s.pseudonym == "Formerror"]


def test_csv_import_page_shows_the_report(app, login_as):
    social_a = login_as("demo-social-a")
    content = f"pseudonym,phone,language,departments\nOk,{unique_mobile()},fr,75\nKo,123,fr,75\n"
    response = social_a.post(
        "/subscribers/import",
        data={
            "csrf_token": csrf_token(social_a, "/subscribers/import"),
            "file": (__import__("io").BytesIO(content.encode()), "list.csv"),
        },
        content_type="multipart/form-data",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "rejected-lines" in body and "<td>3</td>" in body


# --- unsubscribing without a login -------------------------------------------------------------


def test_email_link_confirms_on_get_and_unsubscribes_on_post_in_her_language(app, client):
    with app.app_context():
        row = register(language="ar", phone="", email=unique_email())
        subscribers.validate(row)
        db.session.commit()
        url = subscribers.unsubscribe_url(row).split("127.0.0.1:5000", 1)[1]
        subscriber_id = row.id
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'dir="rtl"' in html and 'lang="ar"' in html and "<form" in html
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "active"  # GET changed nothing
    done = client.post(url)  # no CSRF token: the token in the link is the secret
    assert done.status_code == 200
    with app.app_context():
        row = db.session.get(Subscriber, subscriber_id)
        assert (row.status, row.unsubscribe_source) == ("unsubscribed", "email_link")
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get("/unsubscribe/0123456789abcdef0123456789abcdef").status_code == 404
    assert client.get("/unsubscribe/").status_code == 200


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_INBOUND_SECRET", SECRET)
    return app.test_client()


def test_stop_by_sms_unsubscribes_at_once_and_queues_a_confirmation(app, inbound):
    with app.app_context():
        phone = unique_mobile()
        row = register(phone=phone, language="bg")
        subscribers.validate(row)
        db.session.commit()
        subscriber_id = row.id
    national = "0" + phone[3:]
    headers = {"X-Webhook-Secret": SECRET}
    assert (
        inbound.post(
            "/webhooks/sms/inbound", json={"from": national, "text": "Hello"}, headers=headers
        ).status_code
        == 200
    )
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "active"
    response = inbound.post(
        "/webhooks/sms/inbound", json={"from": phone, "text": " Stop."}, headers=headers
    )
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    with app.app_context():
        row = db.session.get(Subscriber, subscriber_id)
        assert (row.status, row.unsubscribe_source) == ("unsubscribed", "sms_stop")
        notices = db.session.scalars(
            select(Delivery).where(
                Delivery.subscriber_id == subscriber_id, Delivery.purpose == "goodbye"
            )
        ).all()
        assert [(d.channel, d.language, d.status) for d in notices] == [("sms", "bg", "queued")]
    unknown = inbound.post(
        "/webhooks/sms/inbound", json={"from": unique_mobile(), "text": "STOP"}, headers=headers
    )
    assert unknown.get_json() == {"status": "ok"}  # the same answer: nothing is revealed


def test_webhook_refuses_a_missing_or_wrong_secret_and_accepts_forms_with_basic_auth(app, inbound):
    with app.app_context():
        phone = unique_mobile()
        row = register(phone=phone)
        subscribers.validate(row)
        db.session.commit()
        subscriber_id = row.id
    body = {"from": phone, "text": "STOP"}
    assert inbound.post("/webhooks/sms/inbound", json=body).status_code == 401
    wrong = {"X-Webhook-Secret": SECRET + "x"}
    assert inbound.post("/webhooks/sms/inbound", json=body, headers=wrong).status_code == 401
    assert (
        inbound.post(
            "/webhooks/sms/inbound",
            data="[]",
            headers={"X-Webhook-Secret": SECRET, "Content-Type": "application/json"},
        ).status_code
        == 422
    )
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "active"
    basic = base64.b64encode(f"gateway:{SECRET}".encode()).decode()
    response = inbound.post(
        "/webhooks/sms/inbound", data=body, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id).status == "unsubscribed"


def test_webhook_without_a_configured_secret_refuses_everything(app):
    client = app.test_client()
    response = client.post(
        "/webhooks/sms/inbound",
        json={"from": "+33612345678", "text": "STOP"},
        headers={"X-Webhook-Secret": ""},
    )
    assert response.status_code == 401


def test_her_organisation_edits_her_details_and_another_cannot(app, login_as):
    with app.app_context():
        row = register(language="fr", departments="75")
        db.session.commit()
        subscriber_id = row.id
    social_a = login_as("demo-social-a")
    form = social_a.get(f"/subscribers/{subscriber_id}/edit")
    assert form.status_code == 200 and 'value="75"' in form.get_data(as_text=True)
    new_phone = unique_mobile()
    response = _post(
        social_a,
        f"/subscribers/{subscriber_id}/edit",
        f"/subscribers/{subscriber_id}/edit",
        pseudonym="Renamed",
        phone=new_phone,
        language="ru",
        departments="13",
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(Subscriber, subscriber_id)
        assert (row.pseudonym, row.language, row.departments) == ("Renamed", "ru", ["13"])
        assert subscribers.find_by_phone(new_phone).id == subscriber_id
    social_b = login_as("demo-social-b")
    response = social_b.post(
        f"/subscribers/{subscriber_id}/edit",
        data={"csrf_token": csrf_token(social_b, "/subscribers/new"), "pseudonym": "Hijack"},
    )
    assert response.status_code == 404


# --- rules that lived in the subscriber and unsubscribe views --------------------------------


@pytest.mark.parametrize(
    ("reply", "stops"),
    [
        ("STOP", True),
        ("stop.", True),
        ("Arrêt svp", True),
        ("СТОП", True),
        ("退订", True),
        ("  توقف  ", True),
        ("Désinscription!", True),
        ("Merci pour l'alerte", False),
        ("please don't stop", False),
        ("", False),
    ],
)
def test_a_reply_means_stop_by_its_first_word(reply, stops):
    assert subscribers.is_stop(reply) is stops


def test_stop_by_sms_unsubscribes_her_and_says_nothing_about_others(app_context):
    phone = unique_mobile()
    row = register(phone=phone)
    subscribers.validate(row)
    assert subscribers.stop_by_sms(phone, "merci") is False
    assert row.status == "active"
    assert subscribers.stop_by_sms(phone.replace("+33", "0"), "STOP") is True
    assert row.status == "unsubscribed" and row.unsubscribe_source == "sms_stop"
    assert subscribers.stop_by_sms(phone, "STOP") is False  # already gone
    assert subscribers.stop_by_sms(unique_mobile(), "STOP") is False  # nobody
    db.session.rollback()


def test_an_organisation_lists_its_own_subscribers_only(app_context):
    from backoffice.security import acting_for

    mine = register(AIDES, pseudonym="Zora_%")
    theirs = register(ACCEPTESS, pseudonym="Zora_%")
    aides = acting_for(organisation(AIDES).id)
    found = subscribers.organisation_page(aides, query="zora_%", size=500)
    assert mine in found.items and theirs not in found.items
    # "_" and "%" are searched as typed, not as wildcards.
    assert subscribers.organisation_page(aides, query="zoraX", size=500).items == []
    pending = subscribers.organisation_page(aides, status="pending", size=500)
    assert mine in pending.items
    assert mine not in subscribers.organisation_page(aides, status="active", size=500).items
    one = subscribers.organisation_page(aides, page=10**6, size=1)
    assert one.number == one.pages and len(one.items) == 1
    nobody = subscribers.organisation_page(None, size=500)  # an actor of no organisation
    assert nobody.items == []
    db.session.rollback()


def test_her_page_shows_her_latest_deliveries_first(app_context):
    row = register()
    subscribers.validate(row)
    subscribers.unsubscribe(row, "sms_stop")
    latest = subscribers.recent_deliveries(row)
    assert [d.purpose for d in latest] == ["goodbye", "welcome"]
    assert subscribers.recent_deliveries(row, limit=1) == latest[:1]
    db.session.rollback()
