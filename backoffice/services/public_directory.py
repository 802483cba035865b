"""The public directory feed (``GET /api/v1/structures``, shared/API.md).

Verified entries only (a verification older than a year is still served, marked ``due``),
public fields only: never the notes, the source, who verified nor the owner organisation.
The public service codes are fewer than the directory's: ``PUBLIC_SERVICES`` says which
services or categories of an entry give each one. Labels are in the ten alert languages
(``PUBLIC_SERVICE_LABELS``), so the website and the app need no catalogue of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import exists, or_, select

from backoffice.models.structure import Structure, StructureService, verification_state
from backoffice.services.directory import plain_rows

PAGE_SIZE = 50
EARTH_RADIUS_KM = 6371.0088

# Public code -> (directory services, directory categories) that give it.
PUBLIC_SERVICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pep": (("pep",), ()),
    "testing": (("testing",), ("cegidd",)),
    "contraception": (("contraception", "abortion"), ()),
    "emergency": (("forensic",), ("hospital",)),
    "legal": (("legal",), ("lawyer",)),
    "complaint": (("complaint",), ("police",)),
    "shelter": (("shelter",), ("shelter",)),
    "psychological": (("psychological",), ()),
    "administrative": (("administrative",), ()),
    "community": (("peer_support",), ("community",)),
}

# Written for this feed; the non-French ones are to be reviewed by native speakers like the
# other worker-facing texts.
PUBLIC_SERVICE_LABELS: dict[str, dict[str, str]] = {
    "pep": {
        "fr": "Traitement post-exposition (TPE)",
        "en": "Post-exposure treatment (PEP)",
        "es": "Tratamiento post-exposición (PEP)",
        "pt": "Tratamento pós-exposição (PEP)",
        "ro": "Tratament post-expunere (PEP)",
        "bg": "Постекспозиционна профилактика (ПЕП)",
        "zh": "暴露后预防治疗（PEP）",
        "ru": "Постконтактная профилактика (ПКП)",
        "uk": "Постконтактна профілактика (ПКП)",
        "ar": "العلاج الوقائي بعد التعرض",
    },
    "testing": {
        "fr": "Dépistage (VIH, hépatites, IST)",
        "en": "Testing (HIV, hepatitis, STIs)",
        "es": "Pruebas (VIH, hepatitis, ITS)",
        "pt": "Testagem (VIH, hepatites, IST)",
        "ro": "Testare (HIV, hepatite, ITS)",
        "bg": "Изследване (ХИВ, хепатит, ППИ)",
        "zh": "检测（艾滋病毒、肝炎、性传播感染）",
        "ru": "Тестирование (ВИЧ, гепатиты, ИППП)",
        "uk": "Тестування (ВІЛ, гепатити, ІПСШ)",
        "ar": "الفحص (فيروس نقص المناعة، التهاب الكبد، الأمراض المنقولة جنسياً)",
    },
    "contraception": {
        "fr": "Contraception et contraception d'urgence",
        "en": "Contraception and emergency contraception",
        "es": "Anticoncepción y anticoncepción de emergencia",
        "pt": "Contraceção e contraceção de emergência",
        "ro": "Contracepție și contracepție de urgență",
        "bg": "Контрацепция и спешна контрацепция",
        "zh": "避孕和紧急避孕",
        "ru": "Контрацепция и экстренная контрацепция",
        "uk": "Контрацепція та екстрена контрацепція",
        "ar": "منع الحمل ومنع الحمل الطارئ",
    },
    "emergency": {
        "fr": "Urgences médicales",
        "en": "Medical emergencies",
        "es": "Urgencias médicas",
        "pt": "Urgências médicas",
        "ro": "Urgențe medicale",
        "bg": "Спешна медицинска помощ",
        "zh": "医疗急诊",
        "ru": "Неотложная медицинская помощь",
        "uk": "Невідкладна медична допомога",
        "ar": "الطوارئ الطبية",
    },
    "legal": {
        "fr": "Conseil juridique",
        "en": "Legal advice",
        "es": "Asesoría jurídica",
        "pt": "Aconselhamento jurídico",
        "ro": "Consiliere juridică",
        "bg": "Правна консултация",
        "zh": "法律咨询",
        "ru": "Юридическая консультация",
        "uk": "Юридична консультація",
        "ar": "استشارة قانونية",
    },
    "complaint": {
        "fr": "Porter plainte",
        "en": "Filing a complaint",
        "es": "Presentar una denuncia",
        "pt": "Apresentar queixa",
        "ro": "Depunerea unei plângeri",
        "bg": "Подаване на жалба",
        "zh": "报案",
        "ru": "Подача заявления в полицию",
        "uk": "Подання заяви до поліції",
        "ar": "تقديم شكوى",
    },
    "shelter": {
        "fr": "Hébergement d'urgence",
        "en": "Emergency accommodation",
        "es": "Alojamiento de emergencia",
        "pt": "Alojamento de emergência",
        "ro": "Cazare de urgență",
        "bg": "Спешно настаняване",
        "zh": "紧急住宿",
        "ru": "Экстренное жильё",
        "uk": "Екстрене житло",
        "ar": "إيواء طارئ",
    },
    "psychological": {
        "fr": "Soutien psychologique",
        "en": "Psychological support",
        "es": "Apoyo psicológico",
        "pt": "Apoio psicológico",
        "ro": "Sprijin psihologic",
        "bg": "Психологическа подкрепа",
        "zh": "心理支持",
        "ru": "Психологическая поддержка",
        "uk": "Психологічна підтримка",
        "ar": "دعم نفسي",
    },
    "administrative": {
        "fr": "Démarches administratives et droit au séjour",
        "en": "Administrative help and residence rights",
        "es": "Trámites administrativos y derecho de residencia",
        "pt": "Apoio administrativo e direito de residência",
        "ro": "Ajutor administrativ și drept de ședere",
        "bg": "Административна помощ и право на пребиваване",
        "zh": "行政手续和居留权",
        "ru": "Административная помощь и право на пребывание",
        "uk": "Адміністративна допомога та право на перебування",
        "ar": "المساعدة الإدارية وحق الإقامة",
    },
    "community": {
        "fr": "Association communautaire de travailleuses du sexe",
        "en": "Sex workers' community association",
        "es": "Asociación comunitaria de trabajadoras sexuales",
        "pt": "Associação comunitária de trabalhadoras do sexo",
        "ro": "Asociație comunitară a lucrătoarelor sexuale",
        "bg": "Общностна организация на секс работнички",
        "zh": "性工作者社区协会",
        "ru": "Сообщество секс-работниц",
        "uk": "Спільнота секс-працівниць",
        "ar": "جمعية مجتمعية للعاملات في الجنس",
    },
}


def public_services(services: Iterable[str], category: str) -> list[str]:
    """The public codes an entry with these directory services and category offers."""
    held = set(services)
    return [
        code
        for code, (giving_services, giving_categories) in PUBLIC_SERVICES.items()
        if held & set(giving_services) or category in giving_categories
    ]


def _offers_any(codes: Iterable[str]):
    services = {s for code in codes for s in PUBLIC_SERVICES[code][0]}
    categories = {c for code in codes for c in PUBLIC_SERVICES[code][1]}
    return or_(
        exists().where(
            StructureService.structure_id == Structure.id,
            StructureService.service.in_(sorted(services)),
        ),
        Structure.category.in_(sorted(categories)),
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def feed(
    departments: list[str],
    services: list[str],
    near: tuple[float, float] | None,
    language: str,
    offset: int = 0,
) -> tuple[list[dict], int | None]:
    """One page of the feed and the offset of the next page (None on the last)."""
    statement = select(Structure).where(
        Structure.active.is_(True), Structure.verified_at.is_not(None)
    )
    if departments:
        statement = statement.where(Structure.department.in_(departments))
    if services:
        statement = statement.where(_offers_any(services))
    statement = statement.order_by(Structure.department, Structure.city, Structure.name)
    rows = plain_rows(statement)
    if near is not None:
        rows = [row for row in rows if row["latitude"] is not None]
        for row in rows:
            row["distance_km"] = round(
                distance_km(near[0], near[1], row["latitude"], row["longitude"]), 1
            )
        rows.sort(key=lambda row: (row["distance_km"], row["name"], row["id"]))
    page = rows[offset : offset + PAGE_SIZE]
    following = offset + PAGE_SIZE if offset + PAGE_SIZE < len(rows) else None
    return [public_item(row, language) for row in page], following


def public_item(row: dict, language: str) -> dict:
    codes = public_services(row["services"], row["category"])
    item = {
        "id": row["id"],
        "name": row["name"],
        "services": [
            {"code": code, "label": PUBLIC_SERVICE_LABELS[code][language]} for code in codes
        ],
        "address": row["address"],
        "postcode": row["postcode"],
        "city": row["city"],
        "department": row["department"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "phone": row["phone"],
        "opening_hours": row["opening_hours"],
        "languages": row["languages"],
        "trained_on_sex_work": row["trained_on_sex_work"],
        "verification": verification_state(row["verified_at"]),
        "verified_on": row["verified_at"].date().isoformat(),
    }
    if "distance_km" in row:
        item["distance_km"] = row["distance_km"]
    return item
