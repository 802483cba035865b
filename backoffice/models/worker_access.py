"""A worker's own door to the back office (API.md, "Additions for workers").

* ``PendingRegistration`` — a registration waiting for its code. It holds no contact in
  clear: only the keyed blind index of the number or address (the verify request brings the
  contact again), the choices she made, and the code's keyed hash. A registration of a
  number already registered points at that subscriber (``subscriber_id``): its code then
  opens her existing subscription and creates nothing.
* ``WorkerToken`` — the secret the app keeps for her (``wt_…``), stored as its SHA-256 only;
  it authenticates ``/api/v1/me`` and gives her her own check budget. Revoked when she
  unsubscribes.
* ``ReportFollowUp`` / ``ReportAnswer`` — what lets her follow her report with its reference
  and follow-up code, and her sealed answers to a moderator's question.
* ``ReportQuestion`` — a moderator's question about a report (``request_info``), sealed: it
  may quote the testimony. It goes to whoever can answer (``addressee``): the worker through
  the follow-up, or the relays of the association that filed the report, whose answers are
  ``ReportAnswer`` rows too (``answered_by_id`` names the relay; services/questions.py).
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import ConfidentialRecord, EncryptedText, utcnow
from backoffice.models.report import Report
from backoffice.services.confidential import Sealed


class PendingRegistration(Model):
    __tablename__ = "pending_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_index: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    channel: Mapped[str] = mapped_column(String(5), nullable=False)
    language: Mapped[str] = mapped_column(String(5), nullable=False)
    departments: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    all_departments: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    discreet: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The partner whose referral code she gave (her registration then starts active).
    referred_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="CASCADE"), nullable=True
    )
    # The number was registered already: the code opens that subscription.
    subscriber_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


class WorkerToken(Model):
    __tablename__ = "worker_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    subscriber = relationship("Subscriber")


class ReportFollowUp(Model):
    """The follow-up code of one report (shown once at submission, stored as a keyed HMAC),
    its wrong tries, and when she had it erased."""

    __tablename__ = "report_follow_ups"

    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)


QUESTION_ADDRESSEES = ("worker", "partner")

# A relay's home and "Filed reports" count her association's reports by status.
Index("ix_reports_filing_organisation_status", Report.filing_organisation_id, Report.status)


class ReportQuestion(ConfidentialRecord, Model):
    """A moderator's question about a report, sealed with its own data key (shredded when
    the report is erased). Answered (``answered_at``) or, after ``INFORMATION_ANSWER_DAYS``,
    given up (``unanswered_at``: the report went back to the queue marked "no answer")."""

    __tablename__ = "report_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    addressee: Mapped[str] = mapped_column(String(10), nullable=False)
    asked_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=True
    )
    asked_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, index=True
    )
    text_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    unanswered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    text = Sealed()

    asked_by = relationship("StaffUser", foreign_keys=[asked_by_id])


class ReportAnswer(ConfidentialRecord, Model):
    """An answer to a moderator's question: her own words (through the follow-up) or a
    relay's of the association that filed the report (``answered_by_id``), sealed with its
    own data key (shredded when the report is erased)."""

    __tablename__ = "report_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    question_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("report_questions.id", ondelete="SET NULL"), nullable=True
    )
    answered_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=True
    )
    text_sealed: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    text = Sealed()

    answered_by = relationship("StaffUser", foreign_keys=[answered_by_id])
