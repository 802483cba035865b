"""Resident memory of the production processes, started as deploy/'s units start them.

Run from the repository root: ``.venv/bin/python bench/memory.py``. Creates its own
PostgreSQL database, installs it as the README's production recipe says, starts gunicorn
(``deploy/backoffice-web.service``: ``--preload``, 2 workers) and the worker
(``deploy/backoffice-worker.service``: ``flask scheduler run``), requests pages from every
web worker, waits until the worker has run the anonymisation job (which loads the spaCy
engine, in that process only), then reads ``/proc``:

* ``memory_web_worker_rss_max`` / ``memory_web_worker_pss_max``: the largest web worker (RSS
  counts pages shared copy-on-write with the master in full; PSS shares them out);
* ``memory_web_master_rss``; ``memory_web_total_pss`` (master and workers together);
* ``memory_worker_rss``: the scheduler process, anonymisation engine loaded.

The goal: every web worker under 300 MB.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests
import support


def _kib(pid: int, field: str, path: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _mb(kib: int) -> float:
    return kib / 1024


def main() -> None:
    from tests.deploy_support import (
        exec_start,
        first_install,
        production_environment,
        redis_store,
        start,
        stop,
        wait_for,
    )

    port = support.free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    with support.temporary_database("bench_memory") as url, redis_store() as redis_url:
        env = production_environment(url, folder, support.free_port(), redis_url)
        first_install(env)
        web = start(exec_start("backoffice-web.service", port), env, folder / "web.log")
        worker = start(exec_start("backoffice-worker.service", port), env, folder / "worker.log")
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"X-Forwarded-Proto": "https"}

            def answers():
                try:
                    return requests.get(f"{base}/login/", headers=headers, timeout=5).ok
                except requests.exceptions.ConnectionError:
                    return False

            wait_for(answers, 120, "gunicorn")
            for _ in range(40):  # every worker serves pages, the API document, the health check
                for path in ("/login/", "/api/v1/openapi.json", "/healthz", "/unsubscribe/"):
                    requests.get(base + path, headers=headers, timeout=30)
            wait_for(
                lambda: "Job anonymise_reports ran" in (folder / "worker.log").read_text(),
                180,
                "the anonymisation job",
            )
            time.sleep(1)
            workers = _children(web.pid)
            rss = [_kib(pid, "VmRSS") for pid in workers]
            pss = [_kib(pid, "Pss", "smaps_rollup") for pid in workers]
            master_pss = _kib(web.pid, "Pss", "smaps_rollup")
            support.report("memory_web_workers", len(workers))
            support.report("memory_web_worker_rss_max", _mb(max(rss)), "MB")
            support.report("memory_web_worker_pss_max", _mb(max(pss)), "MB")
            support.report("memory_web_master_rss", _mb(_kib(web.pid, "VmRSS")), "MB")
            support.report("memory_web_total_pss", _mb(master_pss + sum(pss)), "MB")
            support.report("memory_worker_rss", _mb(_kib(worker.pid, "VmRSS")), "MB")
        finally:
            stop(web)
            stop(worker)


if __name__ == "__main__":
    main()
