"""Victim details the assistant's patterns cannot see: names from lists, and the scripts
without capital letters (Chinese, Arabic).

``anonymise`` runs Presidio's pattern recognizers; those find a name by its capital letter
after a cue ("меня зовут Наталья"). This module adds, in plain Python (set look-ups, no big
regex alternation, so it costs well under a millisecond per 1,000 characters):

* the name lists of ``backoffice/data/person_names.json`` (given and family names of the ten
  alert languages, built from Faker by ``tools/build_name_lists.py``): a capitalised Latin or
  Cyrillic word that is a given name, Cyrillic ones also inflected ("Алину", "Ирины"), and a
  following family name; an Arabic word that is a listed name, with its clitic ("وفاطمة");
* Chinese: a surname followed by a listed given name ("李秀英"), and whatever follows a cue
  ("我叫", "我的朋友", "他说他叫皮埃尔"), cut where the sentence goes on; ages ("42岁",
  "今年二十九岁") and birth dates ("1986年4月8日出生");
* Arabic: the word after a cue ("اسمي", "اسمه", "تدعى", "باسم"), with "بن علي" after it.

Every finding is a ``Finding(start, end, type, score)``; ``anonymise`` merges them with the
analyzer's. Han characters are blanked (same length) before Presidio sees a text, since its
patterns take them for word characters: "电话是07 21 32 43 54" would not be a phone.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


NAMES_PATH = Path(__file__).resolve().parent.parent / "data" / "person_names.json"
HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_HAN_CHAR = re.compile(f"[{HAN}]")
_WORD = re.compile(r"[^\W\d_]+(?:[\-'’ʼ][^\W\d_]+)*")
_AR_DIACRITICS = re.compile(r"[\u064b-\u0652\u0640\u0670]")  # harakat, tatweel
_AR_CLITICS = "وفبل"
_AR_CONNECTORS = frozenset({"بن", "بنت", "ابن", "أبو", "ابو", "أم", "ام", "آل", "ال"})
# "اسمي فاطمة", "قال إن اسمه كريم", "تقدم نفسه باسم جوليان": the next word is a name.
_AR_CUES = frozenset(
    _words(
        "اسمي اسمه اسمها اسمك يدعى تدعى يدعي يسمى تسمى باسم بإسم يسمونني ينادونني لقبه لقبها "
        "صديقتي زميلتي جارتي أختي اختي صديقي"
    )
)
_AR_SKIP = frozenset({"هو", "هي", "هوا", "كان", "كانت"})
# Cyrillic case endings -> nominative endings to try ("Алину" -> "Алина", "Ирины" -> "Ирина").
_CYR_ENDINGS = (
    ("ою", "а"), ("ею", "я"), ("ой", "а"), ("ей", "я"), ("ей", "а"), ("ии", "ия"), ("ию", "ия"),
    ("ії", "ія"), ("ію", "ія"), ("ом", ""), ("ем", ""), ("ові", ""), ("у", "а"), ("ю", "я"),
    ("ы", "а"), ("и", "а"), ("и", "я"), ("і", "а"), ("е", "а"), ("е", "я"), ("а", ""), ("у", ""),
    ("ой", "ая"), ("ую", "ая"),
)  # fmt: skip
_HAN_CUES = re.compile(
    "我叫|我名叫|我的名字是|我的名字叫|名字叫|名字是|他叫|她叫|自己叫|名叫|叫做|自称|"
    "朋友|同事|姐妹|室友|姐姐|妹妹|邻居|老乡"
)
_HAN_CUE_SURNAME = re.compile("我是|她是|我就是")  # then only a surname-led name
# Characters after which a name has ended ("刘丽写这个", "小红也收到").
_HAN_AFTER_NAME = frozenset(
    "的是在也说和跟有没不就都还又被把给让会要想来去住叫打拿做用从对很已才刚现昨前后一这那当今写当说告问"
)
# Words that follow "姐妹", "朋友"… and are not names ("告诉姐妹们小心").
_HAN_NOT_NAMES = frozenset(_words("们 都 小心 大家 一起 之间 关系 圈子 告诉 提醒 帮忙 帮助 介绍"))
_HAN_NUM = "\\d{1,2}|[一二三四五六七八九十两]{1,3}"
_HAN_AGE = re.compile(
    rf"(?:我|她|今年|年龄|年纪|岁数|[，,（(、：:])\s*(?:今年|已经|才|刚|是|有)?\s*((?:{_HAN_NUM})\s*周?岁)"
)
_HAN_DATE = r"(?:19|20)\d\d\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?"
_HAN_BIRTH = re.compile(
    rf"(?:出生于|生于|出生日期[是:：]?|生日[是:：]?)\s*({_HAN_DATE})|({_HAN_DATE})\s*(?:出生|出世|生)"
)


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    type: str
    score: float


@dataclass(frozen=True)
class NameLists:
    given: frozenset[str]  # Latin and Cyrillic, as written ("Ioana", "Наталья")
    family: frozenset[str]
    arabic: frozenset[str]  # given and family names, without diacritics
    han_surnames: frozenset[str]
    han_given: frozenset[str]


def _is_han(word: str) -> bool:
    return bool(word) and all(_HAN_CHAR.match(c) for c in word)


def _is_arabic(word: str) -> bool:
    return bool(word) and "\u0600" <= word[0] <= "\u06ff"


def _ar_key(word: str) -> str:
    return _AR_DIACRITICS.sub("", word)


@functools.cache
def name_lists() -> NameLists:
    """The lists of ``person_names.json``, read once."""
    data = json.loads(NAMES_PATH.read_text(encoding="utf-8"))
    given, family = data["given"], data["family"]
    arabic = {_ar_key(n) for n in given + family if _is_arabic(n)}
    return NameLists(
        given=frozenset(n for n in given if not _is_han(n) and not _is_arabic(n)),
        family=frozenset(n for n in family if not _is_han(n) and not _is_arabic(n)),
        arabic=frozenset(arabic),
        han_surnames=frozenset(n for n in family if _is_han(n)),
        han_given=frozenset(n for n in given if _is_han(n)),
    )


def blank_han(text: str) -> str:
    """The text with every Han character replaced by a space (offsets unchanged)."""
    return _HAN_CHAR.sub(" ", text) if _HAN_CHAR.search(text) else text


# ---------------------------------------------------------------------------------------------
# Latin and Cyrillic


def _is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def _forms(word: str) -> list[str]:
    """The word and, for Cyrillic, its possible nominatives."""
    if not _is_cyrillic(word):
        return [word]
    forms = [word]
    for ending, nominative in _CYR_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            forms.append(word[: len(word) - len(ending)] + nominative)
    return forms


def _listed(word: str, names: frozenset[str]) -> bool:
    return any(form in names for form in _forms(word))


def _cased_names(text: str, lists: NameLists, not_names: frozenset[str]) -> list[Finding]:
    """Capitalised given names (and the family name after one); Cyrillic family names alone."""
    found: list[Finding] = []
    words = [m for m in _WORD.finditer(text) if m.group()[0].isupper()]
    for i, m in enumerate(words):
        word = m.group()
        if word.casefold() in not_names or len(word) < 2:
            continue
        cyrillic = _is_cyrillic(word)
        if _listed(word, lists.given) or (cyrillic and _listed(word, lists.family)):
            end = m.end()
            nxt = words[i + 1] if i + 1 < len(words) else None
            if nxt and nxt.start() == end + 1 and _listed(nxt.group(), lists.family):
                end = nxt.end()
            found.append(Finding(m.start(), end, "NAME", 0.55))
    return found


# ---------------------------------------------------------------------------------------------
# Arabic


def _ar_name_word(word: str, lists: NameLists, after_cue: bool) -> tuple[int, bool]:
    """(offset of the name inside the word, listed?): "وفاطمة" -> (1, True)."""
    key = _ar_key(word)
    if key in lists.arabic or after_cue:
        return 0, True
    if len(key) > 3 and key[0] in _AR_CLITICS and key[1:] in lists.arabic:
        return 1, True
    return 0, False


def _arabic_names(text: str, lists: NameLists) -> list[Finding]:
    words = [m for m in _WORD.finditer(text) if _is_arabic(m.group())]
    found: list[Finding] = []
    i = 0
    while i < len(words):
        m = words[i]
        after_cue = _ar_key(m.group()) in _AR_CUES
        j = i + 1
        while after_cue and j < len(words) and _ar_key(words[j].group()) in _AR_SKIP:
            j += 1
        target = j if after_cue else i
        if target >= len(words):
            break
        offset, listed = _ar_name_word(words[target].group(), lists, after_cue)
        if not (listed or after_cue):
            i += 1
            continue
        start, end, k = words[target].start() + offset, words[target].end(), target + 1
        # "نادية بن علي", "محمد علي": connectors and listed names go with it.
        while k < len(words) and words[k].start() - end <= 1:
            word = _ar_key(words[k].group())
            is_link = word in _AR_CONNECTORS and k + 1 < len(words)
            if not (word in lists.arabic or is_link):
                break
            if is_link and _ar_key(words[k + 1].group()) not in lists.arabic:
                break
            end, k = words[k + 1 if is_link else k].end(), k + (2 if is_link else 1)
        found.append(Finding(start, end, "NAME", 0.6 if after_cue else 0.55))
        i = k
    return found


# ---------------------------------------------------------------------------------------------
# Chinese


def _han_name_at(run: str, i: int, lists: NameLists, surname_only: bool) -> int:
    """Length of the name starting at run[i] (0 if none)."""
    for size in (2, 1):
        surname = run[i : i + size]
        if len(surname) == size and surname in lists.han_surnames:
            rest = i + size
            for given in (2, 1):
                if run[rest : rest + given] in lists.han_given and len(run) >= rest + given:
                    return size + given
            if not surname_only:
                break
            return 0
    if surname_only or run[i : i + 1] in _HAN_AFTER_NAME or run[i : i + 2] in _HAN_NOT_NAMES:
        return 0
    length = 0
    for c in run[i : i + 4]:
        if length >= 2 and c in _HAN_AFTER_NAME:
            break
        length += 1
    return length if length >= 2 else 0


def _han_names(text: str, lists: NameLists) -> list[Finding]:
    found: list[Finding] = []
    for run_match in re.finditer(f"[{HAN}]+", text):
        run, base = run_match.group(), run_match.start()
        taken = [False] * len(run)
        for cue_rx, surname_only, score in ((_HAN_CUES, False, 0.6), (_HAN_CUE_SURNAME, True, 0.6)):
            for cue in cue_rx.finditer(run):
                size = _han_name_at(run, cue.end(), lists, surname_only)
                if size and not any(taken[cue.end() : cue.end() + size]):
                    taken[cue.end() : cue.end() + size] = [True] * size
                    found.append(Finding(base + cue.end(), base + cue.end() + size, "NAME", score))
        for i in range(len(run)):
            if taken[i]:
                continue
            size = _han_name_at(run, i, lists, surname_only=True)
            if size and not any(taken[i : i + size]):
                taken[i : i + size] = [True] * size
                found.append(Finding(base + i, base + i + size, "NAME", 0.5))
    return found


def _han_ages_and_dates(text: str) -> list[Finding]:
    found = [Finding(m.start(1), m.end(1), "AGE", 0.8) for m in _HAN_AGE.finditer(text)]
    for m in _HAN_BIRTH.finditer(text):
        group = 1 if m.group(1) else 2
        found.append(Finding(m.start(group), m.end(group), "BIRTH_DATE", 0.8))
    return found


# ---------------------------------------------------------------------------------------------
# Entry point


def find(text: str, not_names: frozenset[str] = frozenset()) -> list[Finding]:
    """Names from the lists in every script, and Chinese and Arabic details (see above)."""
    lists = name_lists()
    found = _cased_names(text, lists, not_names)
    if any("\u0600" <= c <= "\u06ff" for c in text):
        found += _arabic_names(text, lists)
    if _HAN_CHAR.search(text):
        found += _han_names(text, lists) + _han_ages_and_dates(text)
    return found
