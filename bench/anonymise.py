"""Benchmark of the anonymisation assistant: latency, then recall and precision on the corpus.

Run from the repository root: ``.venv/bin/python bench/anonymise.py``. Prints ``name: value
unit`` lines. Latency is measured after warm-up on 1,000-character French narratives cut from
the corpus (each call sees a different text, so no cache helps), then on 1,000 characters of
each other alert language (20 calls each, one median over all). Figures per type follow the
corpus rules (tests/data/anonymisation_corpus.py): ``recall_X`` with the declared aggressor
identifiers kept, ``recall_detection_X`` with every identifier (aggressor's too) to find;
``recall_LANG`` is the recall of every victim detail in that language's testimonies.
"""

from __future__ import annotations

import itertools
import statistics
import time

import support  # before the imports below: puts the repository root on sys.path

from backoffice.services import anonymise
from tests.data import anonymisation_corpus as corpus

RUNS = 200
LANGUAGES = ("fr", "en", "es", "pt", "ro", "bg", "ru", "uk", "zh", "ar")


def narratives(
    docs: list[corpus.Document], size: int, count: int, language: str = "fr"
) -> list[str]:
    """``count`` texts in ``language`` of exactly ``size`` characters, each from another doc."""
    chosen = [d.text for d in docs if d.language == language]
    texts = []
    for i in range(count):
        text = ""
        j = i
        while len(text) < size:
            text += chosen[j % len(chosen)] + "\n\n"
            j += 1
        texts.append(text[:size])
    return texts


def latency(texts: list[str], runs: int, language: str = "fr") -> list[float]:
    following = itertools.cycle(texts)
    return support.measure(lambda: anonymise.propose_redaction(next(following), language), runs)


def main() -> None:
    docs = corpus.load_corpus()
    start = time.perf_counter()
    anonymise.warm_up()
    support.report("anonymise_warm_up", time.perf_counter() - start, "s", digits=2)

    short = latency(narratives(docs, 1000, 40), RUNS)
    support.report("anonymise_median_1000_chars", statistics.median(short), "ms")
    support.report("anonymise_p95_1000_chars", support.percentile(short, 95), "ms")
    long = latency(narratives(docs, 10_000, 5), 20)
    support.report("anonymise_median_10000_chars", statistics.median(long), "ms")
    every: list[float] = []
    for language in LANGUAGES[1:]:
        every += latency(narratives(docs, 1000, 4, language), RUNS // 10, language)
    support.report("anonymise_median_1000_chars_other_languages", statistics.median(every), "ms")

    def propose(doc: corpus.Document) -> anonymise.Redaction:
        return anonymise.propose_redaction(doc.text, doc.language, keep=doc.keep)

    scores = corpus.score(docs, propose)
    detection = corpus.score([corpus.detection_view(d) for d in docs], propose)
    holdout = corpus.score([d for d in docs if d.split == "holdout"], propose)
    print(f"corpus_documents: {len(docs)} docs")
    for language in LANGUAGES:
        in_language = [d for d in docs if d.language == language]
        per = corpus.score(in_language, propose)
        found, gold = sum(per.found.values()), sum(per.gold.values())
        print(f"recall_{language}: {found / gold if gold else 1.0:.3f} ({len(in_language)} docs)")
    for kind in corpus.TYPES:
        print(f"recall_{kind}: {scores.recall(kind):.3f}")
        print(f"precision_{kind}: {scores.precision(kind):.3f}")
        print(f"recall_detection_{kind}: {detection.recall(kind):.3f}")
    print(f"aggressor_kept: {scores.aggressor_kept:.3f}")
    print(f"distractors_survived: {scores.distractors_survived:.3f}")
    found = sum(holdout.found.values())
    gold = sum(holdout.gold.values())
    print(f"recall_holdout_all_types: {found / gold:.3f}")
    for line in scores.misses + detection.misses:
        print(f"# missed: {line}")
    for line in scores.false_positives:
        print(f"# false positive: {line}")


if __name__ == "__main__":
    main()
