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
    return Delivery(site, store, Smtp(site, password), sender_address, sleep).run(progress)


class Delivery:
    """One run over the outbox: claim a message, send it, record the outcome;
    temporary failures are retried with back-off, permanent ones recorded."""

    def __init__(self, site: Site, store: Store, smtp: Smtp, sender_address: str | None = None, sleep=time.sleep):
        self.conf = site.config.subscriptions
        self.store, self.smtp, self.sleep = store, smtp, sleep
        self.envelope_from = sender_address or self.conf.sender
        self.report = Report()
        self.retries: dict[int, int] = {}
        self.queue: list = []
        self.owner = claim_owner()
        self.lease = max(600.0, 4 * self.conf.smtp.timeout)

    def run(self, progress: Progress = NO_PROGRESS) -> Report:
        report, finished, task = self.report, 0, None
        try:
            self.queue = list(self.store.pending())
            task = progress.task("delivering mail", len(self.queue), "messages")
            connect_failures = 0
            while self.queue:
                done = report.sent + len(report.failed)
                if done > finished:
                    task.advance(done - finished)
                    finished = done
                row = self.queue[0]
                if not self.store.claim(row["id"], self.owner, time.time(), self.lease):
                    self.queue.pop(0)  # another sender (mail send, the service's worker) has it, or it went out
                    continue
                if self.smtp.client is None:
                    try:
                        self.smtp.connect()
                        connect_failures = 0
                    except TEMPORARY + (smtplib.SMTPException,) as exc:
                        connect_failures += 1
                        if connect_failures > self.conf.retries:
                            report.connection_error = (f"cannot reach the SMTP server {self.conf.smtp.host}:"
                                                       f"{self.conf.smtp.port}: {exc}")
                            break
                        self.sleep(self.conf.backoff * (2 ** (connect_failures - 1)))
                        continue
                self._send(row)
        finally:
            self.smtp.close()
            self.store.release(self.owner)
            if task is not None:
                task.advance(max(0, report.sent + len(report.failed) - finished))
                task.close()
        report.pending, report.elsewhere = self.store.pending_counts(self.owner, time.time())
        return report

    def _send(self, row) -> None:
        try:
            options = [] if row["email"].isascii() else ["SMTPUTF8"]
            refused = self.smtp.client.sendmail(self.envelope_from, [row["email"]], row["raw"], mail_options=options)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
            self.store.mark_sent(row["id"], dt.datetime.now(dt.timezone.utc).isoformat())
            self.report.sent += 1
            self.queue.pop(0)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self.queue.pop(0)
            self._fail_or_retry(row, code, text)
        except smtplib.SMTPResponseException as exc:
            self.queue.pop(0)
            self._fail_or_retry(row, exc.smtp_code, exc.smtp_error)
        except TEMPORARY as exc:
            self.smtp.client = None
            self.queue.pop(0)
            self._fail_or_retry(row, 421, str(exc) or type(exc).__name__)

    def _fail_or_retry(self, row, code, text) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        error = f"{code} {text}".strip()
        if 500 <= int(code) < 600:
            self.store.mark_failed(row["id"], error)
            self.report.failed.append((row["email"], error))
            return
        self.store.mark_retry(row["id"], error)
        n = self.retries.get(row["id"], 0) + 1
        self.retries[row["id"]] = n
        if n <= self.conf.retries:
            self.smtp.close()
            self.sleep(self.conf.backoff * (2 ** (n - 1)))
            self.queue.insert(0, row)
        # else: stays pending for the next run
