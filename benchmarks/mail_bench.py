#!/usr/bin/env python3
"""Digest benchmark: N subscribers, a local aiosmtpd server on 127.0.0.1.

    python3 benchmarks/mail_bench.py [--subscribers 10000]

Measures planning (choose records, compose, queue in the outbox in one
transaction), delivery (send every pending message, committing each), and,
for the outbox overhead, the same messages composed and sent directly with no
database at all.
"""
from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("SOURCE_DATE_EPOCH", "1735689600")
os.environ.setdefault("GAZETTE_SECRET", "benchmark-secret-0123456789abcdefghijklmnop")


class Counter:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main() -> int:
    from aiosmtpd.controller import Controller

    from gazette import resources
    from gazette.mail.choose import mail_candidates, records_for
    from gazette.mail.compose import Composer, plan_digests, wire_bytes
    from gazette.mail.delivery import deliver
    from gazette.mail.store import open_store
    from gazette.mail.tokens import Tokens
    from gazette.mail.store import Scopes
    from gazette.model import RunSettings
    from gazette.pipeline import load_and_resolve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=10000)
    args = ap.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = Path(tempfile.mkdtemp(prefix="mailbench-"))
    site_dir = tmp / "site"
    site_dir.mkdir()
    shutil.copy(ROOT / "gazette.yaml", site_dir)
    shutil.copytree(ROOT / "content", site_dir / "content")
    with open(site_dir / "gazette.yaml", "a", encoding="utf-8") as f:
        f.write(f"\npdf: {{enabled: false}}\nsubscriptions:\n  service_url: https://subscribe.example.gov.cn/\n"
                f"  smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n  backoff: 0\n")
    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        site, _ = load_and_resolve(site_dir, pdf=False, settings=RunSettings.from_environ(os.environ))
        store = open_store(site)
        topics = sorted(site.taxonomies["topics"])
        with store.transaction():
            for i in range(args.subscribers):
                scopes = Scopes() if i % 3 == 0 else Scopes.of(topics=[topics[i % len(topics)]])
                store.add(f"reader{i:06d}@example.com", "en" if i % 5 == 0 else "zh", scopes, "2024-03-01T00:00:00+08:00")
        composer = Composer(site, Tokens(os.environ["GAZETTE_SECRET"]), resources.builtin_theme())

        start = time.perf_counter()
        plan = plan_digests(site, store, composer)
        t_plan = time.perf_counter() - start
        start = time.perf_counter()
        report = deliver(site, store)
        t_deliver = time.perf_counter() - start
        size = os.path.getsize(store.path)
        print(f"{args.subscribers} subscribers: planned {plan.queued} digests in {t_plan:.1f} s "
              f"({plan.queued / t_plan:.0f}/s), delivered {report.sent} in {t_deliver:.1f} s ({report.sent / t_deliver:.0f}/s); "
              f"server received {handler.count}; database {size / 2**20:.0f} MiB")

        # the same work without the outbox: compose and send straight away
        candidates = mail_candidates(site)
        subs = store.all("active")
        start = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", port)
        for i, sub in enumerate(subs):
            records = records_for(sub, candidates, set())
            if records:
                msg = composer.digest(sub, records, 10**9 + i)
                client.sendmail(site.config.subscriptions.sender, [sub.email], wire_bytes(msg))
        client.quit()
        t_direct = time.perf_counter() - start
        total = t_plan + t_deliver
        print(f"direct (no outbox): {t_direct:.1f} s; with outbox: {total:.1f} s; "
              f"outbox overhead {total - t_direct:.1f} s ({(total / t_direct - 1) * 100:.0f}%)")
        store.close()
    finally:
        controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
