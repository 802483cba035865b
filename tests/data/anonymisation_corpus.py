"""Loader and scorer for the hand-annotated anonymisation corpus (anonymisation_corpus.txt).

Shared by tests/unit/test_anonymise.py and bench/anonymise.py so both count the same way.

File format::

    === fr-01                      one document per "===" header, then its metadata lines
    lang: fr                       language passed to the engine (default fr)
    split: dev | holdout           holdout documents were written after the engine was tuned
    keep: 06 12 34 56 78 | AB-123-CD   aggressor identifiers AS DECLARED (may differ in format
                                   from the text); when absent, the <<…>> values are used
    deny: Lila | 07 98 76 54 32    victim details declared in the report (optional)
    ---                            then the narrative, up to the next "===" line

Inline marks in the narrative (removed by the parser, offsets computed on the clean text):

* ``{{TYPE:value}}``: a detail the assistant must propose to redact (the victim's, a third
  person's, or an aggressor detail that was NOT declared, since only ``keep`` is kept);
* ``<<TYPE:value>>``: a declared aggressor identifier that must stay;
* ``[[value]]``: a distractor that must stay (city, car model, price, time, incident date…).

Scoring (per gold type, whatever type the engine gave, since what matters is that it goes):
a gold span is FOUND when predicted spans cover at least 80 % of its non-space characters
(``recall``) and STRICTLY found when they cover all of them (``recall_strict``). A predicted
span is correct for ``precision`` when it overlaps a ``{{…}}`` span. An aggressor identifier
is kept when no predicted span touches it; a distractor survives likewise.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

CORPUS_PATH = Path(__file__).with_name("anonymisation_corpus.txt")
FOUND_FRACTION = 0.8
TYPES = ("NAME", "PHONE", "EMAIL", "ADDRESS", "PLATE", "URL", "HANDLE", "AGE", "BIRTH_DATE")

_MARK = re.compile(
    r"\{\{(?P<rt>[A-Z_]+):(?P<rv>.+?)\}\}|<<(?P<kt>[A-Z_]+):(?P<kv>.+?)>>|\[\[(?P<dv>.+?)\]\]"
)


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    type: str
    value: str


@dataclass
class Document:
    id: str
    text: str
    language: str = "fr"
    split: str = "dev"
    redact: list[GoldSpan] = field(default_factory=list)
    keep_spans: list[GoldSpan] = field(default_factory=list)
    distractors: list[GoldSpan] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)


def _split_values(line: str) -> list[str]:
    return [v.strip() for v in line.split("|") if v.strip()]


def parse_document(doc_id: str, header: list[str], body: str) -> Document:
    meta: dict[str, str] = {}
    for line in header:
        key, _, value = line.partition(":")
        meta[key.strip().lower()] = value.strip()
    doc = Document(id=doc_id, text="", language=meta.get("lang", "fr"))
    doc.split = meta.get("split", "dev")
    doc.deny = _split_values(meta.get("deny", ""))
    pieces: list[str] = []
    cursor = offset = 0
    for m in _MARK.finditer(body):
        pieces.append(body[cursor : m.start()])
        offset += m.start() - cursor
        kind, value = (
            (m["rt"], m["rv"]) if m["rt"] else (m["kt"], m["kv"]) if m["kt"] else ("", m["dv"])
        )
        span = GoldSpan(offset, offset + len(value), kind or "DISTRACTOR", value)
        if m["rt"]:
            doc.redact.append(span)
        elif m["kt"]:
            doc.keep_spans.append(span)
        else:
            doc.distractors.append(span)
        pieces.append(value)
        offset += len(value)
        cursor = m.end()
    pieces.append(body[cursor:])
    doc.text = "".join(pieces)
    for span in doc.redact + doc.keep_spans:
        if span.type not in TYPES:
            raise ValueError(f"{doc_id}: unknown type {span.type}")
    doc.keep = _split_values(meta["keep"]) if "keep" in meta else [s.value for s in doc.keep_spans]
    return doc


def load_corpus(path: Path = CORPUS_PATH) -> list[Document]:
    docs: list[Document] = []
    doc_id: str | None = None
    header: list[str] = []
    body: list[str] = []
    in_body = False

    def flush() -> None:
        if doc_id is not None:
            docs.append(parse_document(doc_id, header, "\n".join(body).strip()))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("=== "):
            flush()
            doc_id, header, body, in_body = line[4:].strip(), [], [], False
        elif doc_id is None or (line.startswith("#") and not in_body):
            continue
        elif not in_body and line.strip() == "---":
            in_body = True
        elif in_body:
            body.append(line)
        elif line.strip():
            header.append(line)
    flush()
    return docs


def detection_view(doc: Document) -> Document:
    """The document with the aggressor's identifiers as spans to find too, and no keep list.

    Measures what the recognizers detect, whoever the detail belongs to: there are few victim
    plates in testimonies, but many aggressor plates.
    """
    return replace(doc, redact=doc.redact + doc.keep_spans, keep_spans=[], keep=[], deny=[])


# ---------------------------------------------------------------------------------------------
# Scoring


def _covered(text: str, start: int, end: int, spans: Iterable[Any]) -> float:
    positions = [i for i in range(start, end) if not text[i].isspace()]
    if not positions:
        return 1.0
    hit = sum(1 for i in positions if any(s.start <= i < s.end for s in spans))
    return hit / len(positions)


def _touches(span: Any, spans: Iterable[Any]) -> bool:
    return any(s.start < span.end and span.start < s.end for s in spans)


@dataclass
class Scores:
    gold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found_strict: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    predicted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    keep_total: int = 0
    keep_kept: int = 0
    distractors_total: int = 0
    distractors_kept: int = 0
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    aggressor_lost: list[str] = field(default_factory=list)

    def recall(self, kind: str, strict: bool = False) -> float:
        found = self.found_strict if strict else self.found
        return found[kind] / self.gold[kind] if self.gold[kind] else 1.0

    def precision(self, kind: str) -> float:
        return self.correct[kind] / self.predicted[kind] if self.predicted[kind] else 1.0

    @property
    def aggressor_kept(self) -> float:
        return self.keep_kept / self.keep_total if self.keep_total else 1.0

    @property
    def distractors_survived(self) -> float:
        return self.distractors_kept / self.distractors_total if self.distractors_total else 1.0

    def summary(self) -> str:
        lines = [
            f"{k}: recall {self.recall(k):.3f} (strict {self.recall(k, True):.3f}, "
            f"n={self.gold[k]}) precision {self.precision(k):.3f} (n={self.predicted[k]})"
            for k in TYPES
        ]
        lines.append(f"aggressor_kept {self.aggressor_kept:.3f} (n={self.keep_total})")
        lines.append(f"distractors_survived {self.distractors_survived:.3f}")
        return "\n".join(lines)


def score(
    docs: Iterable[Document], propose: Callable[[Document], Any], scores: Scores | None = None
) -> Scores:
    """Run ``propose(doc) -> Redaction`` over ``docs`` and accumulate the figures."""
    scores = scores or Scores()
    for doc in docs:
        spans = list(propose(doc).spans)
        for gold in doc.redact:
            scores.gold[gold.type] += 1
            cover = _covered(doc.text, gold.start, gold.end, spans)
            if cover >= FOUND_FRACTION:
                scores.found[gold.type] += 1
            else:
                scores.misses.append(f"{doc.id} {gold.type} {gold.value!r} ({cover:.0%})")
            if cover >= 1.0:
                scores.found_strict[gold.type] += 1
        for span in spans:
            scores.predicted[span.type] += 1
            if _touches(span, doc.redact):
                scores.correct[span.type] += 1
            else:
                value = doc.text[span.start : span.end]
                scores.false_positives.append(f"{doc.id} {span.type} {value!r}")
        for gold in doc.keep_spans:
            scores.keep_total += 1
            if _touches(gold, spans):
                scores.aggressor_lost.append(f"{doc.id} {gold.type} {gold.value!r}")
            else:
                scores.keep_kept += 1
        for gold in doc.distractors:
            scores.distractors_total += 1
            scores.distractors_kept += not _touches(gold, spans)
    return scores
