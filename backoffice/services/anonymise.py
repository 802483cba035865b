"""Anonymisation assistant: propose a redaction of the victim's details in a testimony.

A moderator publishes an alert from a worker's testimony. This module PROPOSES a redacted
narrative; the moderator reviews the span list (publication is blocked until she has), so the
design errs towards redacting: a false positive costs one click, a leak can out a victim.

Design
------
* Engine: Presidio's ``AnalyzerEngine`` over spaCy ``fr_core_news_sm``, built through an
  ``NlpEngineProvider`` with our own spaCy engine class. It loads the model with only its
  ``ner`` pipe (which has its own tok2vec; tagger, parser and lemmatizer made a call four
  times slower for nothing we read) plus a tiny pipe copying the lower-cased text into
  ``lemma_``, so that Presidio's context enhancer still sees words.
* Languages: Presidio ships English recognizers only, so the registry is built by hand and
  every recognizer is registered for ``fr`` and ``en``. No English spaCy model is installed:
  ``en`` then reuses the French model for NER (names are found less well in English text; the
  patterns know the English cues too). If ``en_core_web_sm`` (or md/lg) is installed it is
  used for ``en``. The eight other alert languages (es pt ro bg ru uk zh ar) run as ``xx``:
  the same patterns (their cues and age words are in them: "меня зовут", "mă numesc",
  "29 години", "25 سنة"…) on a blank spaCy pipeline, since the French NER tags their sentence
  starts as people; their names come from the cues and from ``anonymise_names`` (name lists
  built from Faker, inflected Cyrillic names, Chinese and Arabic names, Chinese ages and
  dates). Any other language falls back to ``fr``. Recall per language: bench/anonymise.py.
* Labels: spaCy ``PER``/``PERSON`` -> ``NAME``. ``LOC``/``GPE`` are used ONLY when they are a
  street ("rue des Lilas") or touch a detected street address: the city and department are
  public in an alert, so "Paris" alone is never redacted. ``MISC`` is not mapped (it tags car
  models and plates), nor ``ORG``, dates or numbers.
* Our own pattern recognizers (with context words): French phones in every spelling and
  international ones, emails, URLs, plates (SIV, FNI, Belgian), street addresses, residences
  and door codes, social handles (``@x``, "insta : x", user-name-shaped words such as
  ``lila_75``), ages (digits or words) and birth dates, names after cues ("je m'appelle",
  "ma collègue", "M.") and a gazetteer of first names common among the communities served.
* Offline: email and URL are our own regexes. Presidio's recognizers for them call
  ``tldextract``, which downloads the public-suffix list; this engine never calls it, and a
  test builds a fresh engine with every socket refused and checks no connection is tried.
  Should a stock recognizer ever be added, pin the bundled snapshot with
  ``tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)`` (checked with 5.4.0).
* Threshold: ``SCORE_THRESHOLD = 0.4``. Presidio's stock phone recognizer scored ``+33 7 …``
  0.4, so 0.5 leaked it; our phone patterns score 0.75 and the threshold stays low on purpose
  (weak cues such as a bare "23 ans" after "je" score 0.45).
* Merging: overlapping candidates are merged into their union (so no fragment of a phone can
  survive next to a name), typed by the deny list first, then the best score, then length.
* ``keep`` (the aggressor's declared identifiers) removes candidates whose value matches after
  normalisation (digits for phones, alnum upper-case for plates, casefold otherwise, plus the
  ``identifiers`` service's normal form when that module imports), and anything inside a
  literal occurrence of a kept value. ``deny`` (the victim's declared details) adds spans
  wherever they occur, ignoring case and accents, phones in any format; deny wins over keep.
  Every other detected detail is redacted: who is the victim is left to the moderator.
* Names and handles found once are redacted wherever else they occur in the text.

Cost: about 3 s to build, then about 20 ms for 1,000 characters and 200 ms for 10,000 on one
core (``bench/anonymise.py``). Thread safety: ``warm_up`` builds the engine once under a lock;
analysis holds no lock (spaCy inference and the compiled patterns are only read).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backoffice.services import anonymise_names, identifiers

logger = logging.getLogger(__name__)

PLACEHOLDERS: dict[str, str] = {
    "NAME": "[NOM]",
    "PHONE": "[TÉLÉPHONE]",
    "EMAIL": "[EMAIL]",
    "ADDRESS": "[ADRESSE]",
    "PLATE": "[PLAQUE]",
    "URL": "[URL]",
    "HANDLE": "[PSEUDO]",
    "AGE": "[ÂGE]",
    "BIRTH_DATE": "[DATE_NAISSANCE]",
}

SCORE_THRESHOLD = 0.4
SPACY_MODEL_FR = "fr_core_news_sm"
ENGLISH_MODELS = ("en_core_web_sm", "en_core_web_md", "en_core_web_lg")
ENGINE_LANGUAGES = ("fr", "en", "xx")
# "xx": the other alert languages. The French model read on Spanish or Russian tags sentence
# starts ("Hola", "Пишу") as people, so they get a blank spaCy pipeline (no NER, and no cost):
# their names come from the cues, the name lists and anonymise_names.
OTHER_ALERT_LANGUAGES = ("es", "pt", "ro", "bg", "ru", "uk", "zh", "ar")
BLANK_MODEL = "blank:xx"
NER_LANGUAGES = ("fr", "en")
# Pipes whose output we never read. The shared tok2vec goes too when no kept pipe listens to
# it (fr_core_news_sm's NER has its own).
UNUSED_PIPES = ("morphologizer", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
NER_SCORE = 0.6  # below the structured patterns, so a phone beats a "PER" on the same digits


# ---------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "type": self.type}


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: list[Span] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "spans": [span.to_json() for span in self.spans]}


@dataclass
class _Candidate:
    start: int
    end: int
    type: str
    score: float
    source: str = "pattern"  # "pattern", "ner", "list", "deny", "propagated"


# ---------------------------------------------------------------------------------------------
# Patterns. They are compiled by Presidio with the `regex` module (variable-length
# look-behinds) and WITHOUT re.IGNORECASE: case matters for names and plates, so
# case-insensitive parts are scoped with (?i:...).

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zß-öø-ÿ"
# Names may be Cyrillic ("Наталья", "Ірина", "Ралица"); only they, not streets or plates.
_UP_NAME = _UP + "А-ЯЁІЇЄҐЎ"
_LOW_NAME = _LOW + "а-яёіїєґўъь"
_NAME_WORD = rf"[{_UP_NAME}][{_LOW_NAME}]+(?:[-'’ʼ][{_UP_NAME}]?[{_LOW_NAME}]+)*"
_NAME = rf"{_NAME_WORD}(?:[ \-](?:{_NAME_WORD}|[{_UP}]{{2,}}\b))?"
_SEP = r"[ .\-\u00a0\u202f]"

_PHONE_FR = (
    rf"(?<![\w+])(?:(?:\+|00){_SEP}?33{_SEP}?(?:\(0\)|0)?{_SEP}?|0)[1-9](?:{_SEP}?\d){{8}}(?!\d)"
)
_PHONE_INTL = r"(?<![\w+])(?:\+|00)(?!33)[1-9]\d{0,2}(?:[ .\-\u00a0]?\(?\d{1,5}\)?){2,6}(?!\d)"

_EMAIL = (
    r"(?<![\w.+\-])[\w][\w.%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?!\w)"
)
_EMAIL_OBFUSCATED = (
    r"(?<![\w.])[\w][\w.\-]*\s*(?i:\(at\)|\[at\]|\s(?:at|arobase)\s)\s*[\w\-]+"
    r"\s*(?i:\.|\(dot\)|\[dot\]|\s(?:point|dot)\s)\s*(?i:com|fr|net|org|be|ch)\b"
)

_URL_END = r"[^\s<>\"«»]*[^\s<>\"«».,;:!?)\]]"
_URL_SCHEME = rf"(?i:https?://|www\.){_URL_END}"
_TLDS = "com|fr|net|org|be|ch|io|me|ly|co|eu|info|tv|gg|app|link|to|xxx|cc|ro|bg|br|pt|es"
_URL_BARE = rf"(?<![\w@.\-/])(?i:(?:[a-z0-9\-]+\.)+(?:{_TLDS}))/{_URL_END}"

# SIV never issues I, O or U, but a witness may misread one: the 2-3-2 shape is specific enough.
_PLATE_LETTERS = "A-Z"
_PLATE_SIV = (
    rf"(?<![\w\-])[{_PLATE_LETTERS}]{{2}}[\- ]?\d{{3}}[\- ]?[{_PLATE_LETTERS}]{{2}}(?![\w\-])"
)
_PLATE_FNI = (
    r"(?<![\w\-])\d{1,4}[\- ]?[A-Z]{1,3}[\- ]?(?:0[1-9]|[1-8]\d|9[0-5]|2A|2B|97[1-6])(?![\w\-])"
)
_PLATE_BE = r"(?<![\w\-])[1-9]-[A-Z]{3}-\d{3}(?![\w\-])"

_STREET_TYPES = (
    r"rue|avenue|av\.|boulevard|bd|bld|boul\.|chemin|impasse|imp\.|allée|allee|place|pl\.|"
    r"quai|cours|route|rte|square|passage|villa|cité|cite|résidence|residence|sentier|voie|"
    r"esplanade|parvis|promenade|rond-point|faubourg|fbg|hameau|lotissement|lieu-dit|chaussée|"
    r"chaussee|mail|montée|montee|ruelle|traverse|clos|venelle|street|st\.|road|rd\.|r\."
)
_PARTICLE = r"(?:(?i:de\s+la|du|des|de|la|le|les|aux|au|sur|sous|en|et)\s+|(?i:de\s+l|d|l)['’]\s*)"
_STREET_WORD = rf"(?:[{_UP}][\w'’\-]*|\d+(?:er|e)?)"
_STREET_NAME = rf"{_PARTICLE}*{_STREET_WORD}(?:\s+{_PARTICLE}*{_STREET_WORD}){{0,5}}"
_POSTCODE_CITY = (
    rf"(?:,?\s+(?:\d{{5}}|\d{{2}}\s\d{{3}})\s+[{_UP}][\w'’\-]*(?:[\s\-][{_UP}][\w'’\-]*){{0,3}})"
)
_APARTMENT = (
    r"(?:,?\s+(?i:bâtiment|batiment|bât\.?|bat\.?|escalier|esc\.|appartement|appart|appt\.?|"
    r"apt\.?|porte|étage)\s*(?:n°\s*)?[\w]{1,4}\b)"
)
# "Résidence les Tilleuls, bât C, appt 12" and door codes identify a home without a number.
_RESIDENCE = rf"\b(?i:résidence|residence|cité|cite)\s+{_STREET_NAME}{_APARTMENT}{{0,3}}"
_DOOR_CODE = (
    r"(?<=(?i:\bcode\s+(?:de\s+(?:la\s+)?)?(?:porte|d['’]entrée|entrée|immeuble|interphone)|"
    r"\bdigicode)\s*:?\s*)[0-9A-Z]{3,8}\b"
)
# "tél 6 12 34 56 78": the leading 0 forgotten, accepted only right after a phone word.
_PHONE_NO_ZERO = (
    r"(?<=(?i:\bt[ée]l|\bnum[ée]ro|\bportable|\bwhatsapp)\W{1,3})[67](?:[ .\-]?\d\d){4}(?!\d)"
)
_ADDRESS = (
    rf"(?<![\w:.,/])\d{{1,4}}(?:\s?(?i:bis|ter|quater)\b|[A-Da-d]\b)?,?\s+"
    rf"(?i:{_STREET_TYPES})\s+{_STREET_NAME}{_POSTCODE_CITY}?{_APARTMENT}{{0,3}}"
)

_HANDLE_AT = r"(?<![\w.@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?"
_PLATFORMS = (
    r"insta(?:gram)?|snap(?:chat)?|tik\s?tok|telegram|twitter|onlyfans|only\s?fans|mym|"
    r"facebook|fb|kik|discord|grindr|tinder|pseudo|username|user\s?name|handle"
)
_HANDLE_BODY = r"@?[\w](?:[\w.\-]{0,28}[\w])?"
# After "insta :" / "snap c'est" any token is a handle; after a bare "snap" only one that
# looks like a handle (digit, underscore or dot), so "sur snap il m'a écrit" stays.
_HANDLE_AFTER_SEP = (
    rf"(?<=\b(?i:{_PLATFORMS})\s{{0,3}}(?:(?i:c['’]est|est|is|=|:|->|-)\s{{0,3}})"
    rf"(?:(?i:mon|son|ma|sa)\s+)?)(?!(?i:pas|plus|le|la|les|un|une|mon|son|ma|sa)\b){_HANDLE_BODY}"
)
_HANDLE_AFTER_WORD = (
    rf"(?<=\b(?i:{_PLATFORMS})\s{{1,3}})@?(?=[\w.\-]*[\d_.][\w.\-]*\b)[\w](?:[\w.\-]{{0,28}}[\w])?"
)

# Words like lila_75 or Marc75 are user names in a narrative (kept if declared in keep).
_HANDLE_SHAPED = (
    r"(?<![\w@./\-])(?:[A-Za-z][A-Za-z0-9.]*_[A-Za-z0-9_.]*[A-Za-z0-9]"
    r"|[A-Za-z][A-Za-z._]{2,}\d{2,})(?![\w@\-]|\.\w)"
)

_AGE_WORDS = (
    r"(?i:(?:seize|dix-sept|dix-huit|dix-neuf)|(?:vingt|trente|quarante|cinquante|soixante)"
    r"(?:[\s\-](?:et[\s\-])?(?:un|deux|trois|quatre|cinq|six|sept|huit|neuf))?)"
)
_AGE_UNIT = r"\s?(?i:ans\b|an\b|years?(?:\s+old)?\b|y\.?o\b)"
_AGE_STRONG = (
    rf"(?<=(?i:\bj['’]ai|\bj['’]avais|\belle\s+a|\belle\s+avait|\bâgée?\s+de|\bagée?\s+de|"
    rf"\bâge\s*:|\bage\s*:|\bâge)\s+)(?:\d{{1,2}}|{_AGE_WORDS}){_AGE_UNIT}|"
    rf"(?<=(?i:\bi\s+am|\bi['’]m|\bi\s+was|\bshe\s+is|\bshe['’]s|\bshe\s+was|\bage|\baged)\s+)"
    rf"(?:1[6-9]|[2-8]\d)(?:{_AGE_UNIT}|\b(?!\s*(?:%|€|(?i:euros?|minutes?|hours?|km|h|am|pm)\b|[:.,]\d)))"
)
# A bare "23 ans" counts only in a sentence about "je/moi" with no aggressor word before it,
# and never after "depuis", "il y a", "pendant"... (durations), nor "environ" (his estimate).
_AGE_WEAK = (
    r"(?<=(?i:\b(?:je|j['’]|moi|ma|mon|me|i|my)\b)"
    r"(?:(?!(?i:\b(?:il|lui|homme|client|mec|type|monsieur|gars|he|him|man)\b))[^.!?\n]){0,40})"
    r"(?<!(?i:depuis|pendant|il\s+y\s+a|fait|dans|après|apres|environ|vers|plus\s+de|moins\s+de|"
    r"entre|et|for|ago|about|around)\s+)"
    r"(?<![\d\-])\b(?:1[6-9]|[2-8]\d)\s?(?i:ans\b|years\s+old\b|y\.?o\b)"
    # "Awa, 25 ans," / "Ana-Maria a 19 ans": apposition, or "a" after anyone but "il"/"il y".
    r"|(?<=,\s?|\(|(?<!(?i:\bil|\by|\bon|\blui))\s(?:a|avait)\s)(?:1[6-9]|[2-8]\d)\s?(?i:ans\b)"
)

# The other alert languages: "tengo 27 años", "am 25 de ani", "на 29 години", "мне 24 года",
# "мені 31 рік", "عمري 25 سنة" (Arabic-Indic digits too); ", 31 años," as an apposition.
# Chinese ages ("42岁") are found in anonymise_names, where Han characters are seen.
_AGE_UNITS_ML = (
    r"(?i:años|anos|de\s+ani|ani|години|годин|лет|года|год|років|роки|рік|"
    r"سنة|سنه|عاما|عامًا|عام|سنوات|سنين)(?!\w)"
)
_AGE_NUMBER = r"(?:1[4-9]|[2-8]\d|[١-٨][٠-٩])"
_AGE_CUES_ML = (
    r"\btengo|\btenía|\btiene|\btenho|\btinha|\btem|\bedad\s*(?:de|:)?|\bidade\s*(?:de|:)?|"
    r"\bam|\bavea|\bare|\bvârsta\s*(?:de|:)?|\bvarsta\s*(?:de|:)?|\bна|\bмне|\bей|\bмені|\bїй|"
    r"\bвозраст\s*:?|\bвік\s*:?|\bисполнилось|\bвиповнилося|عمري|عمرها|عمره|سني|العمر"
)
_AGE_ML = (
    rf"(?<=(?i:{_AGE_CUES_ML})\s+){_AGE_NUMBER}\s?{_AGE_UNITS_ML}"
    rf"|(?<=[,(،]\s?){_AGE_NUMBER}\s?{_AGE_UNITS_ML}"
    # "29-летняя", "22-годишна", "20-річна": the feminine adjective, so a woman's age.
    rf"|\b{_AGE_NUMBER}[\s\-]?(?i:летн(?:яя|ей|юю)|годишна(?:та)?|річн(?:а|ої|у))\b"
    r"|\b(?:1[4-9]|[2-8]\d)[\s\-]year[\s\-]old\b"
)

_MONTHS = (
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    r"novembre|décembre|decembre|janv\.?|févr\.?|fevr\.?|avr\.?|juil\.?|sept\.?|oct\.?|"
    r"nov\.?|déc\.?|dec\.?|january|february|march|april|may|june|july|august|september|"
    r"october|november|december"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})\b|(?:1er|\d{{1,2}})\s+(?i:{_MONTHS})"
    rf"\s+\d{{4}}\b|(?i:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b)"
)
_BIRTH_DATE = (
    rf"(?<=(?i:\bnée?|\bnee?|\bborn)\s+(?i:le\s+|on\s+)?){_DATE}|"
    rf"(?<=(?i:date\s+de\s+naissance|\bddn|date\s+of\s+birth|\bdob|birthday)\s*"
    rf"(?::|-|(?i:est|c['’]est|is))?\s*(?i:le\s+|on\s+)?){_DATE}"
)
_BIRTH_YEAR = r"(?<=(?i:\bnée?|\bnee?|\bborn)\s+(?i:en|in)\s+)(?:19|20)\d\d\b"
_BIRTH_CUES_ML = (
    r"\bnació|\bnacida|\bnacido|\bnací|\bnasceu|\bnascida|\bnasci|\bnăscută|\bnascuta|"
    r"\bnăscut|\bnascut|\bродилась|\bродился|\bродена|\bроден|\bнародилася|\bнародився|"
    r"مواليد|ولدت|ولد|الميلاد|\bfecha\s+de\s+nacimiento|\bdata\s+de\s+nascimento|"
    r"\bdata\s+nașterii|\bдата\s+рождения|\bдата\s+на\s+раждане|\bдата\s+народження"
)
_BIRTH_ML = (
    rf"(?<=(?i:{_BIRTH_CUES_ML})\s*:?\s*(?i:el\s+|em\s+|en\s+|pe\s+|în\s+|на\s+|в\s+|у\s+|"
    rf"през\s+|في\s+|عام\s+|سنة\s+)?)(?:{_DATE}|(?:19|20)\d\d\b)"
)

_NAME_CUES = (
    r"je\s+m['’]appelle|mon\s+(?:pré)?nom\s+(?:c['’]est|est|:)|moi\s+c['’]est|c['’]est\s+moi,?|"
    r"je\s+me\s+nomme|je\s+me\s+fais\s+appeler|on\s+m['’]appelle|appelle[\s\-]moi|je\s+suis|"
    r"(?:mon|son)\s+(?:vrai\s+)?nom\s+de\s+famille\s*(?:,|:|c['’]est|est)?|"
    r"ma\s+(?:copine|collègue|collegue|amie|coloc(?:ataire)?|sœur|soeur|cousine|voisine|fille|"
    r"pote|camarade|associée|mère|mere|tante|nièce|niece|meilleure\s+amie)|"
    r"mon\s+(?:ami|amie|copain|fils|frère|frere|mari|voisin|collègue|collegue|pote|cousin|"
    r"coloc(?:ataire)?|conjoint|compagnon|neveu|père|pere|oncle|meilleur\s+ami)|"
    r"(?:appelée?|surnommée?|prénommée?|nommée?|dénommée?)|s['’]appel(?:le|ait|lerait)|"
    r"se\s+(?:faisait|fait)\s+appeler|se\s+présent(?:e|ait)\s+comme|m['’]a\s+appelée|signé,?|"
    r"monsieur|madame|mademoiselle|my\s+name\s+is|call\s+me|this\s+is|i['’]m|i\s+am|"
    r"my\s+(?:friend|colleague|sister|roommate|flatmate|cousin|neighbou?r)|named|called|"
    # Spanish, Portuguese, Romanian
    r"me\s+llamo|mi\s+nombre\s+es|soy|se\s+llama(?:ba)?|dijo\s+llamarse|llamad[oa]|"
    r"mi\s+(?:amiga|compañera|companera|hermana|prima|vecina|hija|amigo|novio)|"
    r"chamo-me|me\s+chamo|(?:o\s+)?meu\s+nome\s+é|sou\s+a|sou\s+o|chama-se|se\s+chama(?:va)?|"
    r"chamad[oa]|se\s+apresentou\s+como|(?:a\s+|o\s+)?(?:minha|meu)\s+(?:amiga|colega|irmã|"
    r"prima|vizinha|filho|filha|amigo|irmão)|"
    r"mă\s+numesc|ma\s+numesc|numele\s+meu\s+(?:este|e)|mă\s+cheamă|ma\s+cheama|"
    r"îl\s+cheamă|il\s+cheama|o\s+cheamă|se\s+nume(?:ște|ste|a)|pe\s+nume|se\s+prezintă\s+ca|"
    r"(?:prietena|colega|sora|vecina|verișoara)\s+mea|sunt|"
    # Bulgarian, Russian, Ukrainian
    r"казвам\s+се|името\s+ми\s+е|аз\s+съм|казва\s+се|се\s+казва|на\s+име|"
    r"се\s+представи\s+като|(?:приятелката|колежката|сестра|съседката|братовчедка)\s+ми|"
    r"меня\s+зовут|мо[её]\s+имя|зовут|по\s+имени|представил(?:ся|ась)(?:\s+как)?|"
    r"(?:моя\s+|мою\s+|свою\s+|моей\s+)?(?:подруг[аиуе]|сестр[аиуе]|соседк[аиуе]|коллег[аиуе])|"
    r"(?:у\s+)?моей\s+соседки|я\s*[—–-]|"
    r"мене\s+звати|мене\s+звуть|мо[єе]\s+ім['’ʼ]я|звати|звуть|на\s+ім['’ʼ]я|назвав(?:ся|шись)|"
    r"назвалася|(?:моя\s+|мою\s+|свою\s+)?(?:подруг[аиу]|сестр[аиу]|сусідк[аиу]|колег[аиу])|я"
)
_NAME_AFTER_CUE = rf"(?<=\b(?i:{_NAME_CUES})\s+){_NAME}"  # cleaned by NOT_NAMES afterwards
_NAME_HONORIFIC = rf"(?<=\b(?:M\.|Mme|Mlle|Mr\.?|Mrs\.?|Ms\.?)\s*){_NAME}"
_NAME_BEFORE_MOI = rf"\b{_NAME_WORD}(?=\s+(?i:et\s+moi|and\s+me)\b)"


def _words(text: str) -> list[str]:
    return text.split()


# Given names common among the communities the programme serves (France, Romania, Bulgaria,
# Nigeria and Ghana, China, Brazil and Latin America, the Maghreb) and common aggressor names.
# NER misses most of them when they stand alone. Names that are ordinary French words (Rose,
# Marine, Aurore…) are left out: capitalised at a sentence start they would be redacted.
FIRST_NAMES: frozenset[str] = frozenset(
    _words(
        """
    Lila Léa Lea Chloé Chloe Manon Camille Sarah Inès Ines Jade Emma Louise Anaïs Anais Clara
    Julie Laura Océane Oceane Pauline Mélanie Melanie Nadia Yasmine Yasmina Kenza Samira Leila
    Leïla Sofia Sophia Nora Amina Fatou Fatoumata Aïcha Aicha Mariam Awa Aminata Salimata
    Mélissa Melissa Jessica Vanessa Cindy Priscilla Stéphanie Stephanie Sandrine Nathalie
    Valérie Valerie Isabelle Céline Celine Audrey Aurélie Aurelie Virginie Karine Marion Lucie
    Ioana Andreea Mihaela Alina Elena Florentina Bianca Roxana Denisa Georgiana Cristina Nicoleta
    Ionela Larisa Loredana Raluca Simona Daniela Gabriela Adriana Carmen Corina Diana Irina
    Madalina Mădălina Oana Ramona Violeta Alexandra Anca Claudia Lavinia Teodora
    Desislava Ralitsa Tsvetelina Galya Mariya Petya Yordanka Stanislava Svetlana Natalia Natasha
    Olga Oksana Tatiana Yulia Iryna Anastasia Katya Kateryna Nadia
    Blessing Joy Precious Favour Favor Chioma Ngozi Adaeze Esther Osas Osasuwa Gift Mercy Faith
    Happiness Glory Patience Comfort Peace Princess Success Ifeoma Nkechi Amaka Chidinma Uche
    Funmi Folake Bukola Efe Osagie Eki Ivie Itohan Omoye Ruth Deborah Abena Akosua Ama Adwoa
    Mei Li Lin Ling Xiao Xiaoli Xiaomei Yan Hua Jing Fang Hong Ying Xiu Lan Juan Qing Wei Yu
    Chen Zhang Wang Liu Huang Zhao Lili Meimei Jiayi Yifan Ting Yun Min Hui
    Thaís Thais Larissa Bruna Juliana Fernanda Camila Jéssica Luana Raíssa Raissa Tainá Taina
    Daniele Priscila Renata Patrícia Patricia Vitória Beatriz Letícia Leticia Mariana Valentina
    Paola Yesenia Rocío Rocio Lucía Lucia Guadalupe Xiomara Dayana Yuliana Valeria
    Karim Mehdi Rachid Youssef Mohamed Mohammed Ahmed Samir Nabil Hakim Bilal Sofiane Yassine
    Marc Thomas Nicolas Julien Olivier Franck Frank Laurent Stéphane Stephane Patrick Philippe
    Christophe Sébastien Sebastien Jérôme Jerome Fabrice Pascal Éric Eric Thierry Bruno Alain
    Didier Gilles Michel Serge Jean Pierre Paul Jacques Antoine Alexandre Maxime Kevin Kévin
    Mickaël Mickael Anthony David Vincent Romain Cédric Cedric Ludovic Grégory Gregory Arnaud
    Jean-Pierre Jean-Marc Jean-Luc Jean-Claude Marie-Claire Ana-Maria Anne-Marie
    """
    )
)
_FIRST_NAME_RE = (
    r"(?<![\w\-'’@])(?:" + "|".join(sorted(FIRST_NAMES, key=len, reverse=True)) + r")(?![\w\-@])"
)

# Capitalised words that spaCy or the cues take for people: cars, sites, apps, calendar words.
NOT_NAMES: frozenset[str] = frozenset(
    w.casefold()
    for w in _words(
        """
    Renault Clio Twingo Mégane Megane Scénic Scenic Kangoo Captur Zoé Zoe Laguna Espace Peugeot
    Citroën Citroen Picasso Berlingo Dacia Sandero Duster Logan Volkswagen VW Golf Polo Passat
    Tiguan Touran Audi BMW Mercedes Classe Toyota Yaris Prius Corolla Ford Fiesta Focus Opel
    Corsa Astra Fiat Panda Tesla Seat Ibiza Leon Skoda Octavia Kia Hyundai Nissan Qashqai Micra
    Volvo Jeep Mini Range Rover Porsche Cayenne Ferrari Lexus Smart Suzuki Mazda Honda
    Uber Bolt Heetch Blablacar WhatsApp Whatsapp Signal Telegram Snapchat Snap Instagram Insta
    Facebook Messenger Twitter TikTok Tiktok Google Gmail Hotmail Outlook Yahoo Orange SFR Free
    Bouygues Sexemodel Wannonce Vivastreet Locanto Leboncoin Escortannonce Ladies Tinder Grindr
    Airbnb Booking Ibis Formule Campanile Kyriad Mercure Novotel Accor OnlyFans Mym Pornhub
    Lundi Mardi Mercredi Jeudi Vendredi Samedi Dimanche Janvier Février Mars Avril Mai Juin
    Juillet Août Septembre Octobre Novembre Décembre Noël Pâques Dieu Allah Police Gendarmerie
    Monsieur Madame Mademoiselle Mme Mlle Docteur SAMU SOS Jasmine AIDES Médecins Monde
    Bonjour Bonsoir Merci Salut Coucou Hello Hi Voilà Ensuite Depuis Heureusement
    Malheureusement Alors Après Alerte Signalement Urgent Attention Client Cliente Escort Hôtel
    Appelle Appelez Appeler Écris Écrivez Ecris Contacte Contactez Rappelle Rappelez Envoie
    Envoyez Ajoute Ajoutez Demande Demandez Dis Dites Voici Note Notez Merci Prévenez Viens
    Venez Attends Attendez Arrête Arrêtez Tiens Regarde Écoute Ouvre Pardon Stop Non Oui
    Française Français Roumaine Roumain Bulgare Nigériane Nigérian Brésilienne Brésilien
    Chinoise Chinois Ukrainienne Russe Espagnole Portugaise Marocaine Algérienne Tunisienne
    Africaine Camerounaise Ivoirienne Ghanéenne Colombienne Péruvienne Équatorienne Albanaise
    Trans Travesti Travestie Belge Suisse Italienne Anglaise Américaine Européenne
    French English Romanian Bulgarian Nigerian Brazilian Chinese Spanish Portuguese
    Friday Monday Tuesday Wednesday Thursday Saturday Sunday
    """
    )
)

_STREET_START_RE = re.compile(rf"^(?:\d[\w\s,]*\s)?(?i:{_STREET_TYPES})\s")
# "avenue de la " just before a LOC "Porte de Clichy": the street type belongs to it. Not
# "route de Rambouillet": roads are named after the (public) town they lead to.
_STREET_BEFORE_RE = re.compile(
    rf"\b(?!(?i:route|rte|chemin)\b)(?i:{_STREET_TYPES})\s+"
    rf"(?:(?i:de\s+la|du|des|de|la|le|les|aux|au)\s+|(?i:de\s+l|d|l)['’])?$"
)


def _pattern_specs() -> list[tuple[str, str, list[tuple[str, str, float]], list[str]]]:
    """(name, entity, [(pattern name, regex, score)], context words) for each recognizer."""
    return [
        (
            "fr_phone",
            "PHONE",
            [("fr_phone", _PHONE_FR, 0.75), ("fr_phone_no_zero", _PHONE_NO_ZERO, 0.6)],
            ["tél", "tel", "téléphone", "portable", "numéro", "numero", "appel", "sms", "phone"],
        ),
        ("intl_phone", "PHONE", [("intl_phone", _PHONE_INTL, 0.6)], ["tél", "numéro", "phone"]),
        (
            "email",
            "EMAIL",
            [("email", _EMAIL, 0.9), ("email_obfuscated", _EMAIL_OBFUSCATED, 0.6)],
            ["mail", "email", "courriel", "adresse"],
        ),
        (
            "url",
            "URL",
            [("url_scheme", _URL_SCHEME, 0.8), ("url_bare", _URL_BARE, 0.6)],
            ["lien", "site", "profil", "annonce", "link"],
        ),
        (
            "plate",
            "PLATE",
            [("siv", _PLATE_SIV, 0.7), ("fni", _PLATE_FNI, 0.5), ("belgian", _PLATE_BE, 0.5)],
            ["plaque", "immatricul", "immat", "voiture", "plate"],
        ),
        (
            "address",
            "ADDRESS",
            [
                ("street_address", _ADDRESS, 0.7),
                ("residence", _RESIDENCE, 0.6),
                ("door_code", _DOOR_CODE, 0.7),
            ],
            ["habite", "adresse"],
        ),
        (
            "handle",
            "HANDLE",
            [
                ("at_handle", _HANDLE_AT, 0.75),
                ("platform_sep", _HANDLE_AFTER_SEP, 0.7),
                ("platform_word", _HANDLE_AFTER_WORD, 0.65),
                ("handle_shaped", _HANDLE_SHAPED, 0.5),
            ],
            ["insta", "snap", "pseudo", "compte", "profil", "tiktok", "telegram"],
        ),
        (
            "age",
            "AGE",
            [
                ("age_strong", _AGE_STRONG, 0.85),
                ("age_weak", _AGE_WEAK, 0.45),
                ("age_languages", _AGE_ML, 0.7),
            ],
            ["âge", "age"],
        ),
        (
            "birth_date",
            "BIRTH_DATE",
            [
                ("birth_date", _BIRTH_DATE, 0.85),
                ("birth_year", _BIRTH_YEAR, 0.7),
                ("birth_languages", _BIRTH_ML, 0.8),
            ],
            ["naissance", "née", "born"],
        ),
        (
            "name_cues",
            "NAME",
            [
                ("after_cue", _NAME_AFTER_CUE, 0.6),
                ("honorific", _NAME_HONORIFIC, 0.6),
                ("before_et_moi", _NAME_BEFORE_MOI, 0.55),
                ("first_names", _FIRST_NAME_RE, 0.5),
            ],
            [],
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Engine construction (lazy, once)

_ENGINE: Any = None
_ENGINE_LOCK = threading.Lock()


def warm_up() -> None:
    """Build the analyzer once (about 3 s); later calls return at once."""
    _get_engine()


def _get_engine() -> Any:
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                _ENGINE = _build_engine()
    return _ENGINE


def _english_model() -> str | None:
    import spacy

    return next((m for m in ENGLISH_MODELS if spacy.util.is_package(m)), None)


def _nlp_configuration() -> dict[str, Any]:
    en_model = _english_model()
    if en_model is None:
        logger.info("no English spaCy model installed: 'en' uses %s for NER", SPACY_MODEL_FR)
    ignored = [
        "MISC", "ORG", "DATE", "TIME", "NORP", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY",
        "PERCENT", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE",
    ]  # fmt: skip
    return {
        "nlp_engine_name": "spacy",
        "models": [
            {"lang_code": "fr", "model_name": SPACY_MODEL_FR},
            {"lang_code": "en", "model_name": en_model or SPACY_MODEL_FR},
            {"lang_code": "xx", "model_name": BLANK_MODEL},
        ],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": {
                "PER": "NAME",
                "PERSON": "NAME",
                "LOC": "LOCATION",
                "GPE": "LOCATION",
                "FAC": "LOCATION",
            },
            "labels_to_ignore": ignored,
            "default_score": NER_SCORE,
        },
    }


def _spacy_engine_class() -> type:
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from spacy.language import Language

    if not Language.has_factory("anonymise_lower_lemma"):

        @Language.component("anonymise_lower_lemma")
        def _lower_lemma(doc: Any) -> Any:
            # Presidio's context enhancer reads lemmas; the lemmatizer is excluded for speed.
            for token in doc:
                token.lemma_ = token.lower_
            return doc

    def _load_ner_only(name: str) -> Any:
        if name == BLANK_MODEL:
            nlp = spacy.blank("xx")
            nlp.add_pipe("anonymise_lower_lemma")
            return nlp
        nlp = spacy.load(name, exclude=list(UNUSED_PIPES))
        if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
            nlp.remove_pipe("tok2vec")
        nlp.add_pipe("anonymise_lower_lemma")
        return nlp

    class NerOnlySpacyNlpEngine(SpacyNlpEngine):
        """spaCy engine that loads only the NER pipe, sharing a model between languages."""

        engine_name = "spacy"

        def load(self) -> None:
            loaded: dict[str, Any] = {}
            self.nlp = {}
            for model in self.models:
                name = model["model_name"]
                if name not in loaded:
                    loaded[name] = _load_ner_only(name)
                self.nlp[model["lang_code"]] = loaded[name]

    return NerOnlySpacyNlpEngine


def _build_registry() -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    flags = re.DOTALL | re.MULTILINE  # no IGNORECASE: see the note above the patterns
    registry = RecognizerRegistry(supported_languages=list(ENGINE_LANGUAGES))
    for language in ENGINE_LANGUAGES:
        for name, entity, patterns, context in _pattern_specs():
            registry.add_recognizer(
                PatternRecognizer(
                    supported_entity=entity,
                    name=f"{name}_{language}",
                    supported_language=language,
                    patterns=[Pattern(n, rx, score) for n, rx, score in patterns],
                    context=context or None,
                    global_regex_flags=flags,
                )
            )
        if language not in NER_LANGUAGES:
            continue
        registry.add_recognizer(
            SpacyRecognizer(
                supported_language=language,
                supported_entities=["NAME", "LOCATION"],
                ner_strength=NER_SCORE,
            )
        )
    return registry


def _build_engine() -> Any:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_engines=(_spacy_engine_class(),), nlp_configuration=_nlp_configuration()
    )
    engine = AnalyzerEngine(
        registry=_build_registry(),
        nlp_engine=provider.create_engine(),
        supported_languages=list(ENGINE_LANGUAGES),
        default_score_threshold=SCORE_THRESHOLD,
    )
    engine.analyze(text="Je m'appelle Lila, 06 12 34 56 78.", language="fr")  # compile regexes
    return engine


# ---------------------------------------------------------------------------------------------
# Normalisation used by keep and deny


def _fold(text: str) -> str:
    """Lower-case and strip accents WITHOUT changing the length, so offsets stay valid."""
    return "".join((unicodedata.normalize("NFD", c)[0].lower() or c)[0] for c in text)


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def phone_key(value: str) -> str:
    """Digits of a phone, French numbers in national form: +33 6…, 0033 6… and 06… agree."""
    d = _digits(value)
    if d.startswith("00"):
        d = d[2:]
    if d.startswith("33") and len(d) in (11, 12):
        rest = d[2:]
        if len(rest) == 10 and rest.startswith("0"):
            rest = rest[1:]
        if len(rest) == 9:
            return "0" + rest
    return d


def _looks_like_phone(value: str) -> bool:
    return bool(re.fullmatch(r"[\d\s.\-+()/\u00a0]+", value)) and len(_digits(value)) >= 8


_KIND_OF_TYPE = {"PHONE": "phone", "EMAIL": "email", "PLATE": "plate", "URL": "url"}


def _identifier_key(value: str, span_type: str | None) -> str | None:
    """The identifiers service's normal form (E.164, canonical URL) when the value is one.

    Optional on purpose: the local keys below are enough, this only adds the view of the
    service that stores the aggressors' identifiers.
    """
    try:
        kind = _KIND_OF_TYPE.get(span_type or "", "pseudonym") if span_type else None
        kind = kind or identifiers.guess_kind(value)
        return f"id:{kind}:{identifiers.normalise(kind, value)}"
    except Exception:  # ValueError for a value of another kind; anything else: ignore too
        return None


def _value_keys(value: str, span_type: str | None = None) -> set[str]:
    """Every comparable form of a value: casefolded text, phone digits, plate alnum, URL."""
    text = value.strip().strip(".,;:!?()[]«»\"'")
    keys = {_fold(text).lstrip("@"), _identifier_key(text, span_type) or ""}
    if _looks_like_phone(text):
        keys.add("phone:" + phone_key(text))
    alnum = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if 5 <= len(alnum) <= 10 and re.search(r"\d", alnum) and re.search(r"[A-Z]", alnum):
        keys.add("plate:" + alnum)
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", _fold(text)).rstrip("/")
    if "/" in url or "." in url:
        keys.add("url:" + url)
    keys.discard("")
    return keys


# ---------------------------------------------------------------------------------------------
# Deny list: the victim's declared details, redacted wherever they appear


def _guess_type(value: str) -> str:
    if _looks_like_phone(value):
        return "PHONE"
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", value):
        return "EMAIL"
    if re.match(r"(?i)https?://|www\.", value) or "/" in value:
        return "URL"
    if value.startswith("@") or re.search(r"[\d_.]", value):
        return "HANDLE"
    return "NAME"


def _phone_regex(value: str) -> re.Pattern[str]:
    key = phone_key(value)
    sep = r"[\s.\-\u00a0]?"
    if len(key) == 10 and key.startswith("0"):
        body = sep.join(re.escape(c) for c in key[1:])
        # Liberal on purpose: the victim declared this number, any spelling of it must go.
        prefix = r"(?:(?:\+|00)?\s?33[\s.\-]?(?:\(0\)|0)?[\s.\-]?|0[\s.\-]?)"
        return re.compile(rf"(?<![\w+]){prefix}{body}(?!\d)")
    body = sep.join(re.escape(c) for c in key)
    return re.compile(rf"(?<![\w+])(?:\+|00)?\s?{body}(?!\d)")


def _occurrences(text: str, values: Iterable[str]) -> Iterable[re.Match[str]]:
    """Every occurrence of each value: phones in any format, the rest ignoring case/accents."""
    folded = None
    for raw in values:
        value = (raw or "").strip()
        if len(value.lstrip("@")) < 2:
            continue
        if _guess_type(value) == "PHONE":
            yield from _phone_regex(value).finditer(text)
            continue
        folded = folded if folded is not None else _fold(text)
        parts = re.split(r"[\s\-]+", _fold(value.lstrip("@")))
        body = r"[\s\-]+".join(re.escape(p) for p in parts if p)
        yield from re.finditer(rf"(?<![\w@.])@?{body}(?![\w@]|\.\w)", folded)


def _deny_candidates(text: str, deny: Iterable[str]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for value in deny:
        kind = _guess_type((value or "").strip())
        found += [
            _Candidate(m.start(), m.end(), kind, 1.0, "deny") for m in _occurrences(text, [value])
        ]
    return found


# ---------------------------------------------------------------------------------------------
# Post-processing of the analyzer's results


_TOKEN_RE = re.compile(r"[\w'’\-.]+")


def _name_shaped(token: str) -> bool:
    """Capitalised, or of a script without capitals (Arabic, Chinese)."""
    first = token[:1]
    return first.isupper() or (first.isalpha() and not first.islower())


def _clean_name(text: str, cand: _Candidate) -> _Candidate | None:
    """Trim non-name words off a NER/cue name ("copine Chioma" -> "Chioma"), or drop it."""
    tokens = [
        m
        for m in _TOKEN_RE.finditer(text, cand.start, cand.end)
        if _name_shaped(m.group()) and m.group().strip(".").casefold() not in NOT_NAMES
    ]
    if not tokens:
        return None
    start, end = tokens[0].start(), tokens[-1].end()
    while end > start and text[end - 1] in ".-'’":
        end -= 1
    if end - start < 2:
        return None
    return _Candidate(start, end, cand.type, cand.score, cand.source)


def _is_street(text: str, cand: _Candidate) -> bool:
    return bool(_STREET_START_RE.match(text[cand.start : cand.end] + " "))


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    return a.start < b.end and b.start < a.end


def _resolve_locations(text: str, cands: list[_Candidate]) -> list[_Candidate]:
    """A LOC counts only as (part of) a street address; a city or a country stays."""
    addresses = [c for c in cands if c.type == "ADDRESS"]
    out = [c for c in cands if c.type != "LOCATION"]
    for loc in (c for c in cands if c.type == "LOCATION"):
        before = _STREET_BEFORE_RE.search(text, max(0, loc.start - 20), loc.start)
        street = _Candidate(before.start() if before else loc.start, loc.end, "ADDRESS", 0.5, "ner")
        if before or _is_street(text, loc) or any(_overlaps(loc, a) for a in addresses):
            out.append(street)
    return out


def _propagate(text: str, cands: list[_Candidate]) -> list[_Candidate]:
    """A name or handle found once is redacted at every other occurrence too."""
    seen: set[tuple[str, str]] = set()
    extra: list[_Candidate] = []
    for cand in cands:
        if cand.type not in ("NAME", "HANDLE"):
            continue
        words = [text[cand.start : cand.end]]
        if cand.type == "NAME":
            words += [w for w in words[0].split() if len(w) >= 3]
        for word in words:
            key = (cand.type, word.lstrip("@").casefold())
            if key in seen or len(key[1]) < 2 or key[1] in NOT_NAMES:
                continue
            seen.add(key)
            flags = re.IGNORECASE if cand.type == "HANDLE" else 0
            rx = rf"(?<![\w@.\-])@?{re.escape(word.lstrip('@'))}(?![\w@\-]|\.\w)"
            if anonymise_names.blank_han(word) != word:  # no spaces between Chinese words
                rx = re.escape(word)
            extra.extend(
                _Candidate(m.start(), m.end(), cand.type, cand.score, "propagated")
                for m in re.finditer(rx, text, flags)
            )
    return cands + extra


def _kept_ranges(text: str, cands: list[_Candidate], keep: list[str]) -> list[tuple[int, int]]:
    """Where the declared aggressor identifiers stand: matching candidates and occurrences."""
    keep_keys: set[str] = set()
    for value in keep:
        keep_keys |= _value_keys(value)
    ranges = [
        (c.start, c.end) for c in cands if _value_keys(text[c.start : c.end], c.type) & keep_keys
    ]
    # Literal occurrences too, so that a name found INSIDE "Seb_Nantes44" stays with it.
    ranges += [(m.start(), m.end()) for m in _occurrences(text, keep)]
    return ranges


def _drop_kept(text: str, cands: list[_Candidate], keep: Iterable[str]) -> list[_Candidate]:
    values = [v.strip() for v in keep if v and v.strip()]
    if not values:
        return cands
    ranges = _kept_ranges(text, cands, values)
    return [c for c in cands if not any(s <= c.start and c.end <= e for s, e in ranges)]


def _merge(cands: list[_Candidate]) -> list[Span]:
    """Union of overlapping candidates, typed by the best score, then the longest."""
    spans: list[Span] = []
    group: list[_Candidate] = []
    end = -1
    for cand in sorted(cands, key=lambda c: (c.start, -c.end)):
        if group and cand.start >= end:
            spans.append(_group_span(group))
            group = []
        group.append(cand)
        end = max(end, cand.end) if len(group) > 1 else cand.end
    if group:
        spans.append(_group_span(group))
    return spans


def _group_span(group: list[_Candidate]) -> Span:
    best = max(group, key=lambda c: (c.source == "deny", c.score, c.end - c.start))
    return Span(min(c.start for c in group), max(c.end for c in group), best.type)


# ---------------------------------------------------------------------------------------------
# Public API


def _language_code(language: str) -> str:
    return (language or "fr").split("-")[0].split("_")[0].lower()


def _engine_language(language: str) -> str:
    code = _language_code(language)
    if code in OTHER_ALERT_LANGUAGES:
        return "xx"
    return code if code in NER_LANGUAGES else "fr"


def _analyze(text: str, language: str) -> list[_Candidate]:
    # Han characters blanked: the patterns take them for letters ("是07 21 32 43 54").
    blanked = anonymise_names.blank_han(text)
    results = _get_engine().analyze(text=blanked, language=_engine_language(language))
    return [
        _Candidate(r.start, r.end, r.entity_type, r.score, _source(r.recognition_metadata))
        for r in results
    ]


def _listed_names(text: str, cands: list[_Candidate]) -> list[_Candidate]:
    """Names from the lists and the scripts without capitals, except inside a place."""
    places = [c for c in cands if c.type == "LOCATION"]
    found = [
        _Candidate(f.start, f.end, f.type, f.score, "list")
        for f in anonymise_names.find(text, NOT_NAMES)
    ]
    return [f for f in found if f.type != "NAME" or not any(_overlaps(f, p) for p in places)]


def _source(metadata: dict[str, Any] | None) -> str:
    name = str((metadata or {}).get("recognizer_name", ""))
    return "ner" if name.startswith("Spacy") else "pattern"


def propose_redaction(
    text: str,
    language: str = "fr",
    keep: Iterable[str] = (),
    deny: Iterable[str] = (),
) -> Redaction:
    """Propose a redaction of ``text``: victim details -> placeholders, ``keep`` stays."""
    if not text or not text.strip():
        return Redaction(text=text or "", spans=[])
    analyzed = _analyze(text, language)
    cands = _resolve_locations(text, analyzed + _listed_names(text, analyzed))
    cands = [c for c in (_clean_name(text, c) if c.type == "NAME" else c for c in cands) if c]
    cands = _propagate(text, cands)
    cands = _drop_kept(text, cands, list(keep))
    cands += _deny_candidates(text, list(deny))
    spans = _merge(cands)
    return Redaction(text=apply_spans(text, spans), spans=spans)


def _normalise_spans(text: str, spans: Iterable[Span]) -> list[Span]:
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for span in ordered:
        if span.type not in PLACEHOLDERS:
            raise ValueError(f"unknown span type {span.type!r}")
        if not 0 <= span.start < span.end <= len(text):
            raise ValueError(f"span {span.start}-{span.end} is outside the text")
        if out and span.start < out[-1].end:  # moderator edits may overlap: take the union
            last = out.pop()
            span = Span(last.start, max(last.end, span.end), last.type)
        out.append(span)
    return out


def apply_spans(text: str, spans: Iterable[Span]) -> str:
    """Replace each span of ``text`` by its placeholder (overlapping spans are united)."""
    pieces: list[str] = []
    cursor = 0
    for span in _normalise_spans(text, spans):
        pieces.append(text[cursor : span.start])
        pieces.append(PLACEHOLDERS[span.type])
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redact_for_cli(text: str, language: str, keep: list[str]) -> dict[str, Any]:
    """JSON-ready proposal for the ``flask anonymise`` command."""
    return propose_redaction(text, language=language, keep=keep).to_json()
