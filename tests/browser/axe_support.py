"""What every browser test checks on a page: axe-core at WCAG 2.1 A/AA, and what is wider
than the screen. One place, so that every page is held to the same rules."""

from __future__ import annotations

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}

# The innermost elements that end beyond the right edge of the screen (to say what to fix).
WIDE_ELEMENTS = """() => {
  const beyond = e => e.getBoundingClientRect().right > window.innerWidth + 1;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim() : '');
  return [...document.querySelectorAll('body *')]
    .filter(e => beyond(e) && ![...e.children].some(beyond))
    .filter(e => !e.closest('.table-scroll, [data-scroll-region]'))
    .slice(0, 4)
    .map(e => name(e) + ' ' + Math.round(e.getBoundingClientRect().right));
}"""


def axe():
    """The vendored axe-core, run by Playwright."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def violations(checker, page, where: str = "") -> list[str]:
    """axe's A/AA violations on the page, each as "rule (impact): first targets"; ``where``
    (a URL or a step) prefixes each, to say which page failed."""
    results = checker.run(page, options=AXE_OPTIONS)
    found = []
    for violation in results.response["violations"]:
        targets = [", ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
        prefix = f"{where}: " if where else ""
        found.append(f"{prefix}{violation['id']} ({violation['impact']}): {targets}")
    return found
