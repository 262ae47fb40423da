"""Subscriptions end to end: a real SMTP server (aiosmtpd on 127.0.0.1), real
SQLite, real HTTP for the self-service service."""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import email
import email.policy
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from conftest import SITES, settings
from gazette.cli import main

SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"
EARLY = "1727740800"  # 2024-10-01: when the subscribers signed up


class SitePath(type(__import__("pathlib").Path())):
    """A site folder that also knows its test servers' ports."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An SMTP server that keeps what it accepts; optionally fails on purpose."""

    def __init__(self, drop_after=None, reject=(), delay=0.0, tempfail_once=()):
        self.messages: list[tuple[list[str], bytes]] = []
        self.drop_after = drop_after
        self.reject = set(reject)
        self.delay = delay
        self.tempfail = set(tempfail_once)
        self.lock = threading.Lock()
        self.in_flight = 0  # messages received but not yet answered

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.drop_after is not None and len(self.messages) >= self.drop_after:
            server.transport.abort()  # the connection just drops
            return "421 going away"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such user"
        if address in self.tempfail:
            self.tempfail.discard(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            self.in_flight += 1
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
            if server.transport is None or server.transport.is_closing():
                return "421 client went away"  # not accepted: an MTA owns a message only after its 250
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK queued"

    def parsed(self):
        return [(to, email.message_from_bytes(raw, policy=email.policy.default)) for to, raw in self.messages]

    def per_recipient(self) -> Counter:
        return Counter(addr for to, _ in self.messages for addr in to)


class Smtp:
    def __init__(self, inbox: Inbox, port: int):
        self.inbox = inbox
        self.controller = Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def mailsite(tmp_path, monkeypatch):
    site = SitePath(tmp_path / "site")
    shutil.copytree(SITES / "valid" / "edge", site)
    smtp_port, http_port = free_port(), free_port()
    config = site / "gazette.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"""
pdf: {{enabled: false}}
subscriptions:
  service_url: http://127.0.0.1:{http_port}/
  sender: gazette@example.gov.cn
  sender_name: {{zh: 样例市政府公报, en: Sample City Gazette}}
  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}
  retries: 2
  backoff: 0
""", encoding="utf-8")
    monkeypatch.setenv("GAZETTE_SECRET", SECRET)
    site.smtp_port, site.http_port = smtp_port, http_port
    return site


def cli(*args, epoch=None, monkeypatch=None):
    env = {"SOURCE_DATE_EPOCH": epoch} if epoch else None
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


def send_through(inbox, site):
    """`gazette mail send` against a real SMTP server; -> (result, server)."""
    server = Smtp(inbox, site.smtp_port)
    try:
        return cli("mail", "send", "--site", site), server
    finally:
        server.stop()


def add_subscribers(site):
    people = [("citizen@example.com", "zh", []), ("Firm@Example.com", "en", ["--tag", "enterprises", "--audience", "enterprises"]),
              ("reader@example.org", "zh", ["--topic", "openness"]), ("newcomer@example.net", "en", [])]
    for addr, lang, scopes in people:
        result = cli("subscribers", "add", addr, "--lang", lang, *scopes, "--site", site, epoch=EARLY)
        assert result.exit_code == 0, result.output


def test_subscribers_add_list_import_export_remove(mailsite, tmp_path):
    add_subscribers(mailsite)
    dup = cli("subscribers", "add", "FIRM@example.COM", "--site", mailsite)
    assert dup.exit_code == 0 and "already subscribed" in dup.output
    assert cli("subscribers", "add", "not-an-address", "--site", mailsite).exit_code == 1
    assert cli("subscribers", "add", "x@example.com", "--tag", "nope", "--site", mailsite).exit_code == 1
    assert cli("subscribers", "remove", "reader@example.org", "--site", mailsite).exit_code == 0
    csv_file = tmp_path / "import.csv"
    csv_file.write_text("email,lang,tags\nREADER@example.org,zh,\nfresh@example.com,en,citizens\nfirm@example.com,zh,\n", encoding="utf-8")
    result = cli("subscribers", "import", csv_file, "--site", mailsite)
    assert result.exit_code == 0, result.output
    assert "imported 1 new, 1 already subscribed, 1 unsubscribed skipped" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text('email,lang\nok@example.com,zh\nbroken@,zh\n"x@example.com\r\nBcc: y@example.com",zh\nz@example.com,fr\n', encoding="utf-8")
    result = cli("subscribers", "import", bad, "--site", mailsite)
    assert result.exit_code == 1
    assert "bad.csv:3: error: 'broken@' is not a valid email address" in result.output
    assert "bad.csv:5: error: " in result.output  # the quoted field with a line break in it
    assert "bad.csv:6: error: language 'fr'" in result.output
    listing = cli("subscribers", "list", "--site", mailsite).output
    assert "ok@example.com" not in listing  # nothing from a file with errors
    assert re.search(r"reader@example.org\tunsubscribed", listing)
    assert re.search(r"fresh@example.com\tactive\ten\ttags: citizens", listing)
    out = tmp_path / "export.csv"
    assert cli("subscribers", "export", out, "--site", mailsite).exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("email,lang,status")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 5


def test_digests_arrive_once_each_correctly_encoded_and_scoped(mailsite, tmp_path):
    add_subscribers(mailsite)
    server = Smtp(Inbox(), mailsite.smtp_port)
    try:
        result = cli("mail", "send", "--site", mailsite)
        assert result.exit_code == 0, result.output
        assert "sent 4" in result.output
        again = cli("mail", "send", "--site", mailsite)
        assert again.exit_code == 0 and "queued 0 digests; sent 0" in again.output
    finally:
        server.stop()
    inbox = server.inbox
    assert inbox.per_recipient() == Counter({"citizen@example.com": 1, "Firm@Example.com": 1, "reader@example.org": 1, "newcomer@example.net": 1})
    by_to = {to[0]: msg for to, msg in inbox.parsed()}
    zh = by_to["citizen@example.com"]
    assert zh["Subject"].startswith("样例市政府公报：") and "件新文件" in zh["Subject"]
    assert zh["From"].addresses[0].display_name == "样例市政府公报"
    assert zh.get_content_type() == "multipart/alternative"
    text = zh.get_body(("plain",)).get_content()
    html = zh.get_body(("html",)).get_content()
    assert "样例市新版管理办法" in text and "https://example.gov.cn/gazette/records/p-new/" in text
    assert '<a href="https://example.gov.cn/gazette/records/p-new/">' in html
    unsub = re.match(r"<(http://127\.0\.0\.1:\d+/unsubscribe\?token=[\w.-]+)>$", zh["List-Unsubscribe"])
    assert unsub and zh["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "manage?token=" in text
    assert "p-old" not in text and "样例市旧版管理办法" not in text  # published before they subscribed
    en = by_to["newcomer@example.net"]
    assert en["Subject"].startswith("Sample City Gazette: ")
    en_text = en.get_body(("plain",)).get_content()
    assert "Measures of Sample City on Administration (new edition)" in en_text
    assert "样例市第6号通知 (available in Chinese only)" in en_text
    reader = by_to["reader@example.org"].get_body(("plain",)).get_content()
    assert "样例市新版管理办法" in reader and "样例市第6号通知" not in reader  # topic openness only


def _header(raw: bytes, name: str) -> bytes:
    """A header exactly as it went over the wire (with its folds), from raw bytes."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^" + re.escape(name.encode()) + rb":([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
    assert m, name
    return m.group(1)


def test_list_headers_subjects_and_message_ids_on_the_wire(mailsite, tmp_path):
    """What mail clients read: the raw bytes the SMTP server received."""
    add_subscribers(mailsite)
    result, server = send_through(Inbox(), mailsite)
    assert result.exit_code == 0, result.output
    raws = {to[0]: raw for to, raw in server.inbox.messages}
    ids = set()
    for addr, raw in raws.items():
        unsub = _header(raw, "List-Unsubscribe")
        assert re.fullmatch(rb" <http://127\.0\.0\.1:\d+/unsubscribe\?token=[\w.-]+>", unsub), unsub  # one line, a URI
        assert b"=?" not in unsub
        assert _header(raw, "List-Unsubscribe-Post") == b" List-Unsubscribe=One-Click"
        list_id = _header(raw, "List-Id")
        assert list_id.endswith(b" <digest.example.gov.cn>"), list_id  # RFC 2919: the id stays plain
        assert b"=?utf-8?" in list_id or b'"' in list_id  # the phrase, encoded (Chinese) or quoted
        subject = _header(raw, "Subject")
        assert not subject.startswith(b"\r\n"), subject  # no fold before the first word
        message_id = _header(raw, "Message-ID").strip()
        assert re.fullmatch(rb"<[0-9a-f]{32}\.digest@example\.gov\.cn>", message_id), message_id
        ids.add(message_id)
        assert _header(raw, "Content-Language").strip() in (b"zh", b"en")
        text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
        assert not re.search(r"(?m)^[ \t]+$", text), text  # no whitespace-only lines
    assert len(ids) == len(raws)
    en = email.message_from_bytes(raws["newcomer@example.net"], policy=email.policy.default)
    assert en["List-Id"] == '"Sample City Gazette" <digest.example.gov.cn>'
    zh = email.message_from_bytes(raws["citizen@example.com"], policy=email.policy.default)
    assert zh["List-Id"] == "样例市政府公报 <digest.example.gov.cn>"
    # another database of the same site: other Message-IDs for the same outbox rows
    other = SitePath(tmp_path / "other")
    shutil.copytree(mailsite, other)
    shutil.rmtree(other / ".gazette")  # a database of its own
    other.smtp_port = mailsite.smtp_port
    add_subscribers(other)
    result, server = send_through(Inbox(), other)
    assert result.exit_code == 0, result.output
    assert not ids & {_header(raw, "Message-ID").strip() for _, raw in server.inbox.messages}


def test_a_first_send_says_why_nothing_went_and_backfill_sends_earlier_records(mailsite, monkeypatch):
    result = cli("mail", "send", "--site", mailsite)
    assert result.exit_code == 0 and "no confirmed subscribers" in result.output, result.output
    # subscribed after everything was published: nothing new, and the message says why and what to do
    result = cli("subscribers", "add", "late@example.com", "--site", mailsite, epoch="1893456000")  # 2030
    assert result.exit_code == 0, result.output
    server = Smtp(Inbox(), mailsite.smtp_port)
    try:
        result = cli("mail", "send", "--site", mailsite)
        assert "queued 0 digests" in result.output and "published since the subscriber subscribed" in result.output
        assert "--backfill-since" in result.output
        result = cli("mail", "send", "--backfill-since", "2024-01-01", "--site", mailsite)
        assert result.exit_code == 0 and "queued 1 digest;" in result.output, result.output
        again = cli("mail", "send", "--backfill-since", "2024-01-01", "--site", mailsite)
        assert "queued 0 digests" in again.output  # never a record twice
    finally:
        server.stop()
    text = server.inbox.parsed()[0][1].get_body(("plain",)).get_content()
    assert "样例市新版管理办法" in text and "样例市旧版管理办法" not in text  # 2023: before the backfill date


def test_a_dry_run_needs_no_secret_and_its_links_are_placeholders(mailsite, monkeypatch, tmp_path):
    add_subscribers(mailsite)
    monkeypatch.delenv("GAZETTE_SECRET")
    out = tmp_path / "dry"
    result = cli("mail", "send", "--dry-run", "--out", out, "--site", mailsite)
    assert result.exit_code == 0 and "placeholders" in result.output, result.output
    from gazette.mail.tokens import DRY_RUN_SECRET, Tokens
    raw = sorted(out.glob("*.eml"))[0].read_bytes()
    token = re.search(rb"unsubscribe\?token=([\w.-]+)", raw).group(1).decode()
    assert Tokens(DRY_RUN_SECRET).links.loads(token)  # signed with the marked placeholder
    import itsdangerous
    with pytest.raises(itsdangerous.BadSignature):
        Tokens(SECRET).links.loads(token)  # the real service would refuse it
    assert cli("mail", "send", "--site", mailsite).exit_code == 1  # a real send still needs the secret


def test_targeted_and_non_public_records_never_reach_the_wrong_inbox(mailsite):
    add_subscribers(mailsite)
    # following the audience's tag (as anyone can on the public form) is not enrolment
    assert cli("subscribers", "add", "outsider@example.com", "--tag", "enterprises", "--site", mailsite, epoch=EARLY).exit_code == 0
    server = Smtp(Inbox(), mailsite.smtp_port)
    try:
        assert cli("mail", "send", "--site", mailsite).exit_code == 0
    finally:
        server.stop()
    raw = {to[0]: msg.as_string() for to, msg in server.inbox.parsed()}
    firm = server.inbox.parsed()
    for addr, text in raw.items():
        for canary in ("CANARY-SECRET", "CANARY-SCHEDULED", "CANARY-REQUEST", "CANARY-UNREVIEWED"):
            assert canary not in text, (addr, canary)
    firm_msg = next(m for to, m in firm if to == ["Firm@Example.com"])
    assert "CANARY-TARGETED-44d" in firm_msg.get_body(("plain",)).get_content()  # audience: enterprises
    for addr in ("citizen@example.com", "reader@example.org", "newcomer@example.net", "outsider@example.com"):
        assert "CANARY-TARGETED" not in raw[addr], addr
    listing = cli("subscribers", "list", "--site", mailsite).output
    assert re.search(r"Firm@Example.com\tactive\ten\ttags: enterprises\taudiences: enterprises", listing), listing


def test_dry_run_writes_messages_and_changes_nothing(mailsite, tmp_path):
    add_subscribers(mailsite)
    out = tmp_path / "dry"
    result = cli("mail", "send", "--dry-run", "--out", out, "--site", mailsite)
    assert result.exit_code == 0 and "wrote 4 messages" in result.output
    files = sorted(out.glob("*.eml"))
    assert len(files) == 4
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    server = Smtp(Inbox(), mailsite.smtp_port)
    try:
        assert "sent 4" in cli("mail", "send", "--site", mailsite).output  # the dry run queued nothing
    finally:
        server.stop()


def test_dropped_connection_then_rerun_delivers_each_exactly_once(mailsite):
    add_subscribers(mailsite)
    for i in range(6):
        assert cli("subscribers", "add", f"extra{i}@example.com", "--site", mailsite, epoch=EARLY).exit_code == 0
    flaky = Smtp(Inbox(drop_after=3), mailsite.smtp_port)
    try:
        first = cli("mail", "send", "--site", mailsite)
    finally:
        flaky.stop()
    assert first.exit_code == 1 and "still pending" in first.output
    assert len(flaky.inbox.messages) == 3
    good = Smtp(Inbox(), mailsite.smtp_port)
    try:
        second = cli("mail", "send", "--site", mailsite)
    finally:
        good.stop()
    assert second.exit_code == 0, second.output
    total = flaky.inbox.per_recipient() + good.inbox.per_recipient()
    assert len(total) == 10 and set(total.values()) == {1}


def test_permanent_failures_are_reported_and_temporary_ones_retried(mailsite):
    add_subscribers(mailsite)
    server = Smtp(Inbox(reject={"reader@example.org"}, tempfail_once={"citizen@example.com"}), mailsite.smtp_port)
    try:
        result = cli("mail", "send", "--site", mailsite)
        rerun = cli("mail", "send", "--site", mailsite)
    finally:
        server.stop()
    assert "failed: reader@example.org: 550 5.1.1 no such user" in result.output
    assert "sent 3, failed 1, still pending 0" in result.output
    assert server.inbox.per_recipient() == Counter({"citizen@example.com": 1, "Firm@Example.com": 1, "newcomer@example.net": 1})
    assert "queued 0" in rerun.output and "sent 0" in rerun.output  # a permanent failure is not retried


def test_killed_mid_run_then_rerun_delivers_each_exactly_once(mailsite):
    for i in range(12):
        assert cli("subscribers", "add", f"bulk{i:02d}@example.com", "--site", mailsite, epoch=EARLY).exit_code == 0
    slow = Smtp(Inbox(delay=0.3), mailsite.smtp_port)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600", GAZETTE_SECRET=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", "mail", "send", "--site", str(mailsite)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Kill while a message is on the wire, before the server has answered it.
        # (Killing in the instant between the server's 250 and the sender's commit
        # would repeat that one message: the limit of any SMTP client, documented.)
        deadline = time.monotonic() + 30
        while not (len(slow.inbox.messages) >= 4 and slow.inbox.in_flight) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        slow.stop()
    assert 4 <= len(slow.inbox.messages) < 12
    good = Smtp(Inbox(), mailsite.smtp_port)
    try:
        rerun = cli("mail", "send", "--site", mailsite)
    finally:
        good.stop()
    assert rerun.exit_code == 0, rerun.output
    total = slow.inbox.per_recipient() + good.inbox.per_recipient()
    assert len(total) == 12 and set(total.values()) == {1}, total


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def http(method, url, data=None):
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def test_subscription_service_end_to_end(mailsite):
    inbox = Inbox()
    server = Smtp(inbox, mailsite.smtp_port)
    env = dict(os.environ, SOURCE_DATE_EPOCH=EARLY, GAZETTE_SECRET=SECRET)  # they sign up on 2024-10-01
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", "subscriptions", "serve", "--site", str(mailsite),
                             "--port", str(mailsite.http_port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{mailsite.http_port}/"
    try:
        line = proc.stdout.readline()
        assert "subscription service" in line, line
        status, page = http("GET", base)
        assert status == 200 and 'name="email"' in page
        # bad input: a clear error page, and no header injection
        assert http("POST", base + "subscribe", {"email": "nobody"})[0] == 400
        status, page = http("POST", base + "subscribe", {"email": "a@example.com\r\nBcc: victim@example.com"})
        assert status == 400 and "not a valid email address" in page
        assert http("POST", base + "subscribe", {"email": "a@example.com", "tags": ["no-such-tag"]})[0] == 400
        assert not inbox.messages
        # subscribe: a confirmation email, and nothing active yet
        status, page = http("POST", base + "subscribe", {"email": "Reader@Example.com", "lang": "en", "tags": ["citizens"]})
        assert status == 200 and "Check your inbox" in page
        wait_for(lambda: len(inbox.messages) == 1)  # the service's worker delivers it, not the request
        confirm_mail = inbox.parsed()[0][1]
        assert confirm_mail["Subject"] == "Please confirm your subscription to Sample City Gazette"
        link = re.search(r"(http://127\.0\.0\.1:\d+/confirm\?token=[\w.-]+)", confirm_mail.get_body(("plain",)).get_content()).group(1)
        listing = cli("subscribers", "list", "--site", mailsite).output
        assert "Reader@Example.com\tpending\ten\ttags: citizens" in listing
        assert http("GET", link[:-3] + "xyz")[0] == 400
        status, page = http("GET", link)
        assert status == 200 and "confirmed" in page
        assert "Reader@Example.com\tactive" in cli("subscribers", "list", "--site", mailsite).output
        # stamped with the time of the request, not the site's build time (SOURCE_DATE_EPOCH)
        db = sqlite3.connect(mailsite / ".gazette" / "subscribers.sqlite3")
        confirmed = db.execute("SELECT confirmed FROM subscribers WHERE email_key = 'reader@example.com'").fetchone()[0]
        stamped = dt.datetime.fromisoformat(confirmed)  # in the site's time zone: compared as an instant, not a date
        assert stamped.tzinfo is not None and abs(dt.datetime.now(dt.timezone.utc) - stamped) < dt.timedelta(minutes=10), confirmed
        # as if they had confirmed before the records were published, so a digest has something in it
        db.execute("UPDATE subscribers SET created = '2024-10-01T08:00:00+08:00', confirmed = '2024-10-01T08:00:00+08:00'")
        db.commit()
        db.close()
        # a digest carries a one-click unsubscribe link; POST it as a mail client would (RFC 8058)
        sent = cli("mail", "send", "--site", mailsite)  # (a dry run's links are placeholders)
        assert sent.exit_code == 0, sent.output
        msg = inbox.parsed()[-1][1]
        assert msg["Subject"] == "Sample City Gazette: 1 new document"  # in their language, singular
        unsubscribe = msg["List-Unsubscribe"].strip("<>")
        manage = re.search(r"(http://\S+/manage\?token=[\w.-]+)", msg.get_body(("plain",)).get_content()).group(1)
        status, page = http("POST", manage, {"lang": "zh", "topics": ["openness"]})
        assert status == 200 and "设置已保存" in page
        assert "Reader@Example.com\tactive\tzh\ttopics: openness" in cli("subscribers", "list", "--site", mailsite).output
        status, page = http("GET", unsubscribe)
        assert status == 200 and "<form method=\"post\"" in page  # GET alone changes nothing
        assert "Reader@Example.com\tactive" in cli("subscribers", "list", "--site", mailsite).output
        status, _ = http("POST", unsubscribe, {"List-Unsubscribe": "One-Click"})
        assert status == 200
        assert "Reader@Example.com\tunsubscribed" in cli("subscribers", "list", "--site", mailsite).output
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.stop()


def test_static_subscribe_page_posts_to_the_configured_service(mailsite, tmp_path):
    from gazette.pipeline import build

    build(mailsite, tmp_path / "out", pdf=False, with_search=False, settings=settings())
    html = (tmp_path / "out" / "subscribe" / "index.html").read_text(encoding="utf-8")
    assert f'<form method="post" action="http://127.0.0.1:{mailsite.http_port}/subscribe">' in html
    assert 'name="tags" value="citizens"' in html and 'name="email"' in html
    assert 'name="issues" value="yes"' in html and 'name="match" value="all"' in html
    en = (tmp_path / "out" / "en" / "subscribe" / "index.html").read_text(encoding="utf-8")
    assert '<option value="en" selected>' in en
    year = (tmp_path / "out" / "years" / "2024" / "index.html").read_text(encoding="utf-8")
    assert 'type="application/rss+xml"' in year and "feeds/all/rss.xml" in year  # no feed of its own: the site's


# ------------------------------------------------------------------ exactly once, abuse, tokens
def _send_process(site):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1735689600", GAZETTE_SECRET=SECRET)
    return subprocess.Popen([sys.executable, "-m", "gazette.cli", "mail", "send", "--site", str(site)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_senders_at_once_send_each_message_once(mailsite):
    csv_file = mailsite / "many.csv"
    csv_file.write_text("email,lang\n" + "".join(f"p{i:03d}@example.com,zh\n" for i in range(60)), encoding="utf-8")
    assert cli("subscribers", "import", csv_file, "--site", mailsite, epoch=EARLY).exit_code == 0
    server = Smtp(Inbox(delay=0.01), mailsite.smtp_port)
    try:
        # planning and delivery both race: two processes started together
        procs = [_send_process(mailsite) for _ in range(3)]
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        server.stop()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0 and "Traceback" not in err and "IntegrityError" not in err, (out, err)
    counts = server.inbox.per_recipient()
    assert len(counts) == 60 and set(counts.values()) == {1}, counts
    queued = sum(int(re.search(r"queued (\d+)", out).group(1)) for out, _ in outputs)
    assert queued == 60  # each digest planned once, by whichever sender came first


def _service(mailsite, *extra):
    env = dict(os.environ, SOURCE_DATE_EPOCH=EARLY, GAZETTE_SECRET=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "gazette.cli", "subscriptions", "serve", "--site", str(mailsite),
                             "--port", str(mailsite.http_port), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert "subscription service" in proc.stdout.readline()
    return proc, f"http://127.0.0.1:{mailsite.http_port}/"


def request(method, url, data=None, headers=None):
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8")


def test_the_service_queues_mail_limits_abuse_and_sends_security_headers(mailsite):
    server = Smtp(Inbox(), mailsite.smtp_port)
    proc, base = _service(mailsite, "--deliver-every", "0")  # no worker: requests only queue
    try:
        status, headers, _ = request("GET", base)
        assert status == 200
        assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer" and headers["X-Frame-Options"] == "DENY"
        # another site's page cannot post the form
        status, _, _ = request("POST", base + "subscribe", {"email": "v@example.com"}, {"Origin": "https://evil.example"})
        assert status == 403
        # the gazette's own origin can
        status, _, _ = request("POST", base + "subscribe", {"email": "v@example.com"}, {"Origin": "https://example.gov.cn"})
        assert status == 200
        for _ in range(8):  # a mail bomb against one pending address
            assert request("POST", base + "subscribe", {"email": "victim@example.com"})[0] == 200
        time.sleep(0.5)
        assert server.inbox.messages == []  # nothing is sent inside a request
        db = sqlite3.connect(mailsite / ".gazette" / "subscribers.sqlite3")
        pending = db.execute("SELECT email FROM outbox WHERE status = 'pending' ORDER BY email").fetchall()
        db.close()
        assert pending == [("v@example.com",), ("victim@example.com",)]  # one confirmation per address
        # per client: after 20 POSTs a minute, 429
        statuses = [request("POST", base + "subscribe", {"email": f"x{i}@example.com"})[0] for i in range(15)]
        assert statuses.count(429) >= 4 and statuses[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    try:
        sent = cli("mail", "send", "--site", mailsite)
    finally:
        server.stop()
    assert sent.exit_code == 0
    assert server.inbox.per_recipient()["victim@example.com"] == 1


def test_the_service_worker_and_mail_send_share_the_outbox_without_repeats(mailsite):
    csv_file = mailsite / "many.csv"
    csv_file.write_text("email,lang\n" + "".join(f"q{i:03d}@example.com,zh\n" for i in range(40)), encoding="utf-8")
    assert cli("subscribers", "import", csv_file, "--site", mailsite, epoch=EARLY).exit_code == 0
    server = Smtp(Inbox(delay=0.01), mailsite.smtp_port)
    plan = cli("mail", "send", "--dry-run", "--out", mailsite / "dry", "--site", mailsite)
    assert plan.exit_code == 0
    proc, base = _service(mailsite, "--deliver-every", "0.05")
    try:
        sender = _send_process(mailsite)  # plans 40 digests while the worker polls the outbox
        out, err = sender.communicate(timeout=120)
        wait_for(lambda: len(server.inbox.messages) >= 40)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.stop()
    counts = server.inbox.per_recipient()
    assert len(counts) == 40 and set(counts.values()) == {1}, counts


def test_links_expire_rotate_and_do_not_carry_the_address(mailsite, monkeypatch):
    import base64

    from gazette.mail.store import open_store
    from gazette.mail.tokens import CONFIRM_MAX_AGE, Tokens
    from gazette.pipeline import load_and_resolve

    site, _ = load_and_resolve(mailsite, pdf=False, settings=settings())
    tokens = Tokens(SECRET)
    with open_store(site) as store:
        _, sub = store.add("reader@example.org", "zh", __import__("gazette.mail.store", fromlist=["Scopes"]).Scopes(), "2024-10-01")
        sub = store.get(sub.id)
        link = tokens.make(sub)
        payload = base64.urlsafe_b64decode(link.split(".")[0] + "==")
        assert b"@" not in payload and b"reader" not in payload
        assert tokens.read(link, store).id == sub.id
        assert tokens.read(link[:-2] + "xx", store) is None
        # unsubscribe and subscribe again: links from before no longer work
        store.unsubscribe(sub.id, "2024-11-01")
        store.add("reader@example.org", "zh", sub.scopes, "2024-12-01", status="pending", resubscribe=True)
        assert tokens.read(link, store) is None
        fresh = store.get(sub.id)
        confirm = tokens.make_confirm(fresh)
        assert tokens.read(confirm, store, confirm=True).id == sub.id
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + CONFIRM_MAX_AGE + 60)
        assert tokens.read(confirm, store, confirm=True) is None  # a confirmation link expires
        assert tokens.read(tokens.make(fresh), store) is not None  # made now (in the future): fine


@pytest.mark.parametrize("weak", ["a" * 40, "short-secret-123", "abababababababababababababababababab"])
def test_weak_secrets_are_refused(mailsite, weak):
    add_subscribers(mailsite)
    result = CliRunner(env={"GAZETTE_SECRET": weak}).invoke(main, ["mail", "send", "--site", str(mailsite)])
    assert result.exit_code == 1 and "random secret of at least 32 characters" in result.output


def test_internationalised_addresses(mailsite):
    for addr in ("读者@例子.中国", "user@bücher.example"):
        result = cli("subscribers", "add", addr, "--site", mailsite, epoch=EARLY)
        assert result.exit_code == 0, result.output
    listing = cli("subscribers", "list", "--site", mailsite).output
    assert "读者@xn--fsqu00a.xn--fiqs8s" in listing and "user@xn--bcher-kva.example" in listing
    sent, server = send_through(Inbox(), mailsite)
    assert sent.exit_code == 0, sent.output
    assert server.inbox.per_recipient() == Counter({"读者@xn--fsqu00a.xn--fiqs8s": 1, "user@xn--bcher-kva.example": 1})
    raw = dict((to[0], data) for to, data in server.inbox.messages)
    assert "To: 读者@xn--fsqu00a.xn--fiqs8s".encode() in raw["读者@xn--fsqu00a.xn--fiqs8s"]
    assert b"To: user@xn--bcher-kva.example" in raw["user@xn--bcher-kva.example"]


def test_a_database_from_an_earlier_version_keeps_working(mailsite):
    """Columns added since (audiences, token nonces, outbox claims) are added on open,
    and every subscriber gets a nonce before any link is signed for them."""
    from gazette.mail.store import open_store
    from gazette.mail.tokens import Tokens
    from gazette.pipeline import load_and_resolve

    path = mailsite / ".gazette" / "subscribers.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript("""
      CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL, email_key TEXT NOT NULL UNIQUE,
        lang TEXT NOT NULL, scopes TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL, confirmed TEXT, unsubscribed TEXT);
      CREATE TABLE outbox (id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL, email TEXT NOT NULL, kind TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE, raw BLOB NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, created TEXT NOT NULL, sent TEXT);
      INSERT INTO subscribers VALUES (1, 'old@example.com', 'old@example.com', 'zh', '{"all": true}', 'active',
        '2024-01-01T00:00:00+08:00', '2024-01-01T00:00:00+08:00', NULL);
    """)
    db.commit()
    db.close()
    assert "old@example.com\tactive" in cli("subscribers", "list", "--site", mailsite).output
    site, _ = load_and_resolve(mailsite, pdf=False, settings=settings())
    tokens = Tokens(SECRET)
    with open_store(site) as store:
        (sub,) = store.all()
        assert sub.token_nonce and sub.audiences == []
        assert tokens.read(tokens.make(sub), store).email == "old@example.com"
    sent, server = send_through(Inbox(), mailsite)
    assert sent.exit_code == 0 and server.inbox.per_recipient()["old@example.com"] == 1


def test_rate_limits_forget_old_windows():
    from gazette.mail.service import POSTS_PER_MINUTE, RateLimits

    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    assert all(limits.allow_post("a") for _ in range(POSTS_PER_MINUTE)) and not limits.allow_post("a")
    assert limits.allow_confirmation("x@example.com") and not limits.allow_confirmation("x@example.com")
    for i in range(10001):  # a flood from many clients
        limits.allow_post(f"client-{i}")
    now[0] = 61.0
    assert limits.allow_post("a")  # the window moved on
    assert len(limits.posts) == 1  # and memory did not keep the flood


def test_a_long_subject_folds_between_words_never_before_the_first():
    from email.message import EmailMessage

    from gazette import i18n
    from gazette.mail.compose import _SMTP, wire_bytes

    msg = EmailMessage(policy=_SMTP)
    msg["To"] = "reader@example.com"
    msg["Subject"] = i18n.t("digest_subject", "en", title="Shanghai Municipal People’s Government Gazette (English Edition)", n=12)
    msg.set_content("x")
    subject = _header(wire_bytes(msg), "Subject")
    assert subject.startswith(b" Shanghai Municipal"), subject
    assert msg["Subject"].endswith(": 12 new documents")
    assert i18n.t("digest_subject", "en", title="T", n=1) == "T: 1 new document"
    from gazette.mail.compose import _phrase
    assert _phrase('Sample\r\nBcc: x "City"') == '"Sample Bcc: x \\"City\\""'  # one line, quotes escaped
    assert i18n.t("records_count", "en", n=1) == "1 document" and i18n.t("days_left", "en", n=1) == "1 day left"


def test_scopes_match_all_and_new_issue_alerts(mailsite):
    """--match all: one of each kind chosen (appointments by this issuer), where
    the default combines kinds with OR; --issues: an alert for each new issue."""
    people = [("both@example.com", ["--type", "appointment", "--issuer", "city-gov", "--match", "all"]),
              ("either@example.com", ["--type", "appointment", "--issuer", "city-gov"]),
              ("issues@example.com", ["--issues"])]
    for addr, scopes in people:
        result = cli("subscribers", "add", addr, *scopes, "--site", mailsite, epoch=EARLY)
        assert result.exit_code == 0, result.output
    assert "matching all of them" in cli("subscribers", "list", "--site", mailsite).output
    result, server = send_through(Inbox(), mailsite)
    assert result.exit_code == 0, result.output
    got = {to[0]: msg for to, msg in server.inbox.parsed()}
    both = got["both@example.com"].get_body(("plain",)).get_content()
    either = got["either@example.com"].get_body(("plain",)).get_content()
    assert "appt-2024-12" in both and "comm-2024-12" not in both and "p-new/" not in both
    assert "appt-2024-12" in either and "comm-2024-12" in either and "p-new/" in either  # issued by city-gov
    alert = got["issues@example.com"]
    text = alert.get_body(("plain",)).get_content()
    assert alert["Subject"] == "样例市政府公报：2024年第12期已出版", alert["Subject"]
    assert "issues/2024-12/" in text and "issues/2024-01/" not in text  # published before they subscribed
    assert "records/" not in text  # issues only
    result, server = send_through(Inbox(), mailsite)
    assert "queued 0 digests" in result.output and not server.inbox.messages  # each alert once
    # the CSV keeps both choices
    out = mailsite / "export.csv"
    assert cli("subscribers", "export", out, "--site", mailsite).exit_code == 0
    rows = {r["email"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["both@example.com"]["match"] == "all" and rows["issues@example.com"]["issues"] == "yes"


def test_service_pages_come_from_the_theme_in_the_subscribers_language(mailsite):
    """The service's pages have the site's look (the theme's base template and
    stylesheet, served by the service itself), the subscriber's language, a
    link back to the site; preferences carry an unsubscribe link and say that
    ticking nothing means everything."""
    theme = mailsite / "themes" / "default" / "templates"
    theme.mkdir(parents=True, exist_ok=True)
    from gazette import resources
    base = (resources.builtin_theme() / "templates" / "service.html").read_text(encoding="utf-8")
    (theme / "service.html").write_text(base.replace("<h1>{{ page.title }}</h1>", "<h1>{{ page.title }}</h1><p>SITE-THEME-MARK</p>"),
                                        encoding="utf-8")
    assert cli("subscribers", "add", "reader@example.com", "--lang", "en", "--site", mailsite, epoch=EARLY).exit_code == 0
    proc, base_url = _service(mailsite)
    try:
        status, headers, home = request("GET", base_url)
        assert status == 200 and 'class="masthead"' in home and "SITE-THEME-MARK" in home
        assert '<link rel="stylesheet" href="static/style.css">' in home
        css = request("GET", base_url + "static/style.css")
        assert css[0] == 200 and "text/css" in css[1]["Content-Type"] and ".masthead" in css[2]
        assert request("GET", base_url + "static/../gazette.yaml")[0] == 404
        assert "style-src 'self'" in headers["Content-Security-Policy"]
        assert 'href="https://example.gov.cn/gazette/"' in home  # back to the site
        assert "以上各项都不勾选，即订阅全部文件。" in home
        from gazette.mail.tokens import Tokens
        from gazette.mail.store import Store
        with Store(mailsite / ".gazette" / "subscribers.sqlite3") as s:
            sub = next(x for x in s.all() if x.email == "reader@example.com")
            token = Tokens(SECRET).make(sub)
            confirm = Tokens(SECRET).make_confirm(sub)
        status, _, manage = request("GET", base_url + f"manage?token={token}")
        assert status == 200 and '<html lang="en">' in manage and "Preferences" in manage
        assert f'href="unsubscribe?token={token}"' in manage and "Tick nothing above to receive every document." in manage
        assert "订阅" not in manage.split('<main id="main"', 1)[1]  # the page in the subscriber's language
        status, _, done = request("GET", base_url + f"confirm?token={confirm}")
        assert status == 200 and done.count("Your subscription is confirmed.") == 1
        status, _, bad = request("GET", base_url + "manage?token=nonsense")
        assert status == 400 and 'class="masthead"' in bad and "链接无效或已过期。" in bad
    finally:
        proc.terminate()
        proc.wait(timeout=10)
