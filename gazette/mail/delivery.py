"""Delivering the outbox over SMTP: each message is marked sent as soon as the
server accepts it; temporary failures are retried with back-off, permanent
ones recorded; claims keep every message to one sender at a time."""
from __future__ import annotations

import datetime as dt
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field

from ..errors import GazetteError
from ..model import Site
from ..progress import NO_PROGRESS, Progress
from .store import Store, claim_owner


@dataclass
class Report:
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: int = 0  # still to send, and no other sender is on it
    elsewhere: int = 0  # pending, but being sent by another process right now
    connection_error: str | None = None


class Smtp:
    """One connection to the configured server; `password` (for an SMTP user)
    is given by the caller, who reads it from the environment."""

    def __init__(self, site: Site, password: str | None = None):
        self.conf = site.config.subscriptions.smtp
        self.password = password
        self.client: smtplib.SMTP | None = None

    def connect(self) -> smtplib.SMTP:
        conf = self.conf
        if conf.security == "ssl":
            client = smtplib.SMTP_SSL(conf.host, conf.port, timeout=conf.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(conf.host, conf.port, timeout=conf.timeout)
            if conf.security == "starttls":
                client.starttls(context=ssl.create_default_context())
        if conf.user:
            password = self.password
            if password is None:
                raise GazetteError(f"SMTP user {conf.user} is set: put the password in the environment variable {conf.password_env}")
            client.login(conf.user, password)
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.client = None


TEMPORARY = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError, socket.timeout,
             ConnectionError, OSError)


def deliver(site: Site, store: Store, sender_address: str | None = None, sleep=time.sleep,
            progress: Progress = NO_PROGRESS, password: str | None = None) -> Report:
    """Send every pending message; commit each as soon as the server accepts it."""
    conf = site.config.subscriptions
    smtp = Smtp(site, password)
    report = Report()
    envelope_from = sender_address or conf.sender
    retries: dict[int, int] = {}
    task = None
    finished = 0
    owner = claim_owner()
    lease = max(600.0, 4 * conf.smtp.timeout)
    try:
        queue = list(store.pending())
        task = progress.task("delivering mail", len(queue), "messages")
        connect_failures = 0
        while queue:
            done = report.sent + len(report.failed)
            if done > finished:
                task.advance(done - finished)
                finished = done
            row = queue[0]
            if not store.claim(row["id"], owner, time.time(), lease):
                queue.pop(0)  # another sender (mail send, the service's worker) has it, or it went out
                continue
            if smtp.client is None:
                try:
                    smtp.connect()
                    connect_failures = 0
                except TEMPORARY + (smtplib.SMTPException,) as exc:
                    connect_failures += 1
                    if connect_failures > conf.retries:
                        report.connection_error = f"cannot reach the SMTP server {conf.smtp.host}:{conf.smtp.port}: {exc}"
                        break
                    sleep(conf.backoff * (2 ** (connect_failures - 1)))
                    continue
            try:
                client = smtp.client
                options = [] if row["email"].isascii() else ["SMTPUTF8"]
                refused = client.sendmail(envelope_from, [row["email"]], row["raw"], mail_options=options)
                if refused:
                    raise smtplib.SMTPRecipientsRefused(refused)
                store.mark_sent(row["id"], dt.datetime.now(dt.timezone.utc).isoformat())
                report.sent += 1
                queue.pop(0)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, code, text, queue, conf, sleep, smtp)
            except smtplib.SMTPResponseException as exc:
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, exc.smtp_code, exc.smtp_error, queue, conf, sleep, smtp)
            except GazetteError:
                raise
            except TEMPORARY as exc:
                smtp.client = None
                queue.pop(0)
                _fail_or_retry(store, report, retries, row, 421, str(exc) or type(exc).__name__, queue, conf, sleep, smtp)
    finally:
        smtp.close()
        store.release(owner)
        if task is not None:
            task.advance(max(0, report.sent + len(report.failed) - finished))
            task.close()
    report.pending, report.elsewhere = store.pending_counts(owner, time.time())
    return report


def _fail_or_retry(store, report, retries, row, code, text, queue, conf, sleep, smtp) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    error = f"{code} {text}".strip()
    if 500 <= int(code) < 600:
        store.mark_failed(row["id"], error)
        report.failed.append((row["email"], error))
        return
    store.mark_retry(row["id"], error)
    n = retries.get(row["id"], 0) + 1
    retries[row["id"]] = n
    if n <= conf.retries:
        smtp.close()
        sleep(conf.backoff * (2 ** (n - 1)))
        queue.insert(0, row)
    # else: stays pending for the next run
