"""Benchmark of the anonymisation assistant: latency, then recall and precision on the corpus.

Run from the repository root: ``.venv/bin/python bench/anonymise.py``. Prints ``name: value
unit`` lines. Latency is measured after warm-up on 1,000-character French narratives cut from
the corpus (each call sees a different text, so no cache helps). Figures per type follow the
corpus rules (tests/data/anonymisation_corpus.py): ``recall_X`` with the declared aggressor
identifiers kept, ``recall_detection_X`` with every identifier (aggressor's too) to find.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backoffice.services import anonymise  # noqa: E402
from tests.data import anonymisation_corpus as corpus  # noqa: E402

RUNS = 200


def narratives(docs: list[corpus.Document], size: int, count: int) -> list[str]:
    """``count`` French texts of exactly ``size`` characters, each starting on another doc."""
    french = [d.text for d in docs if d.language == "fr"]
    texts = []
    for i in range(count):
        text = ""
        j = i
        while len(text) < size:
            text += french[j % len(french)] + "\n\n"
            j += 1
        texts.append(text[:size])
    return texts


def latency(texts: list[str], runs: int) -> list[float]:
    timings = []
    for i in range(runs):
        start = time.perf_counter()
        anonymise.propose_redaction(texts[i % len(texts)])
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    docs = corpus.load_corpus()
    start = time.perf_counter()
    anonymise.warm_up()
    print(f"anonymise_warm_up: {time.perf_counter() - start:.2f} s")

    short = latency(narratives(docs, 1000, 40), RUNS)
    print(f"anonymise_median_1000_chars: {statistics.median(short):.1f} ms")
    print(f"anonymise_p95_1000_chars: {p95(short):.1f} ms")
    long = latency(narratives(docs, 10_000, 5), 20)
    print(f"anonymise_median_10000_chars: {statistics.median(long):.1f} ms")

    def propose(doc: corpus.Document) -> anonymise.Redaction:
        return anonymise.propose_redaction(doc.text, doc.language, keep=doc.keep)

    scores = corpus.score(docs, propose)
    detection = corpus.score([corpus.detection_view(d) for d in docs], propose)
    holdout = corpus.score([d for d in docs if d.split == "holdout"], propose)
    print(f"corpus_documents: {len(docs)} docs")
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
