"""One typed schema for site configuration and record front matter.

Models are strict: a number is not a string, `yes` is not a boolean, and a
date is exactly `YYYY-MM-DD` naming a real day.  Unknown fields are kept
(`model_extra`) so the loader can warn about them by name.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

RECORD_TYPES = ("policy", "interpretation", "faq", "appointment", "commendation", "consultation")
DISCLOSURES = ("proactive", "on-request", "not-public", "targeted")
STATUSES = ("effective", "amended", "repealed", "expired", "unknown")


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a date YYYY-MM-DD, got {type(value).__name__} {value!r}")
    m = DATE_RE.match(value.strip())
    if not m:
        raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date ({exc})") from None


def _pattern(regex: re.Pattern, what: str):
    def check(value: Any) -> str:
        if not isinstance(value, str) or not regex.match(value):
            raise ValueError(f"{value!r} is not a valid {what} (must match {regex.pattern})")
        return value
    return check


def _local_text(value: Any, info: ValidationInfo) -> dict[str, str]:
    """A plain string (the site's first language) or {lang: text}.  Given the
    site's languages (validation context "languages"), the text is normalised
    here: a plain string goes under the first language, and a language the site
    does not have is an error."""
    languages = (info.context or {}).get("languages") or []
    default = languages[0] if languages else ""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be empty")
        return {default: value}
    if isinstance(value, dict) and value:
        out = {}
        for lang, text in value.items():
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"the {lang!r} text must be a non-empty string")
            lang = lang or default
            if languages and lang not in languages:
                raise ValueError(f"language '{lang}' is not configured in gazette.yaml (languages: {', '.join(languages)})")
            out[lang] = text
        return out
    raise ValueError("expected a string or a mapping {language: text}")


def _http_url(value: Any) -> str:
    """An absolute http(s) URL with a host: never javascript:, data:, a relative
    or protocol-relative URL, and no spaces or control characters anywhere."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        raise ValueError(f"expected an http(s) URL, got {type(value).__name__}")
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError(f"{value!r} is not an http(s) URL: it contains spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _email(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^\s@<>\"'?&;,:/\\]+@[^\s@<>\"'?&;,:/\\]+\.[^\s@<>\"'?&;,:/\\]+", value):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _one_line(value: Any) -> str:
    """A title or name: not blank, one line, no control characters."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must not be blank")
        if any(ord(c) < 0x20 or ord(c) == 0x7F or c in "\u2028\u2029" for c in value):
            raise ValueError("must be one line of text (no line breaks or control characters)")
    return value


Date = Annotated[dt.date, BeforeValidator(_date)]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_one_line)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
Email = Annotated[str, BeforeValidator(_email)]
RecordId = Annotated[str, BeforeValidator(_pattern(ID_RE, "record id"))]
Key = Annotated[str, BeforeValidator(_pattern(KEY_RE, "key"))]
LocalText = Annotated[dict, BeforeValidator(_local_text)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Model(BaseModel):
    # validated models are frozen: what a file said is never changed afterwards
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


# --------------------------------------------------------------- configuration
class PdfConfig(Model):
    enabled: bool = Field(default=True, description="render record and issue PDFs (`build --no-pdf` overrides)")
    variant: Literal["pdf/a-3b", "pdf/a-2b", "pdf/ua-1", "none"] = Field(
        default="pdf/a-3b", description="`pdf/a-3b`, `pdf/a-2b`, `pdf/ua-1` (tagged, accessible) or `none`")
    paper: Literal["A4", "A5", "Letter"] = Field(default="A4", description="`A4`, `A5` or `Letter`")
    scheduler: Optional[str] = Field(default=None, description="a Dask scheduler (`tcp://host:8786`) to render PDFs on its "
                                     "workers instead of local processes (`build --scheduler` overrides)")

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v):
        return None if v is None else scheduler_address(v)


def scheduler_address(value: str) -> str:
    """A Dask scheduler's address, tcp://host:port or tls://host:port (gazette.yaml
    pdf.scheduler and build --scheduler)."""
    if not isinstance(value, str) or not re.fullmatch(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}", value):
        raise ValueError(f"{value!r} is not a Dask scheduler address (tcp://host:port or tls://host:port)")
    return value


class SmtpConfig(Model):
    host: str = Field(default="127.0.0.1", description="the SMTP server")
    port: int = Field(default=25, ge=1, le=65535, description="its port")
    security: Literal["none", "starttls", "ssl"] = Field(default="starttls", description="`none`, `starttls` or `ssl`")
    user: Optional[str] = Field(default=None, description="SMTP user, if the server wants a login")
    password_env: str = Field(default="GAZETTE_SMTP_PASSWORD",
                              description="the environment variable that holds the SMTP password (never in a file)")
    timeout: float = Field(default=30, gt=0, description="seconds to wait for the server")


class SubscriptionsConfig(Model):
    database: str = Field(default=".gazette/subscribers.sqlite3",
                          description="the subscriber database, relative to the site; never inside the output")
    service_url: Optional[str] = Field(default=None, description="where `gazette subscriptions serve` is reachable "
                                       "(the subscribe form and the links in mails point there)")
    sender: Annotated[str, AfterValidator(_one_line)] = Field(default="gazette@localhost", description="the From address")
    sender_name: Optional[LocalText] = Field(default=None, description="the From name, per language (default: the title)")
    reply_to: Optional[Email] = Field(default=None, description="a Reply-To address")
    secret_env: str = Field(default="GAZETTE_SECRET", description="the environment variable that holds the key "
                            "signing unsubscribe and preference links (at least 32 characters)")
    smtp: SmtpConfig = Field(default_factory=SmtpConfig, description="the SMTP server (below)")
    retries: int = Field(default=3, ge=0, le=20, description="retries per message and run, for temporary failures")
    backoff: float = Field(default=1.0, ge=0, le=600, description="seconds before the first retry; doubles each time")

    @field_validator("service_url")
    @classmethod
    def _service_url(cls, v):
        if v is None:
            return v
        v = _http_url(v)
        return v if v.endswith("/") else v + "/"


class SearchConfig(Model):
    enabled: bool = Field(default=True, description="build the search index (`build --no-search` overrides)")


class SiteConfig(Model):
    title: LocalText = Field(description="the gazette's name, per language (required)")
    base_url: str = Field(description="where the site is published, http(s), may be a sub-path (required)")
    languages: list[Annotated[str, BeforeValidator(_pattern(LANG_RE, "language code"))]] = Field(
        default_factory=lambda: ["zh"], min_length=1,
        description="the first is the language of the originals, at the root; others under /<lang>/")
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone the build date is taken in")
    publisher: Optional[LocalText] = Field(default=None, description="the publishing office, per language (footer, feeds)")
    theme: Annotated[str, BeforeValidator(_pattern(KEY_RE, "theme name"))] = Field(
        default="default", description="themes/NAME in the site overrides templates and static files")
    page_size: int = Field(default=50, ge=5, le=1000, description="records per listing page (5-1000)")
    home_latest: int = Field(default=15, ge=1, le=200, description="latest records on the home page")
    pdf: PdfConfig = Field(default_factory=PdfConfig, description="PDFs (below)")
    feed_size: int = Field(default=50, ge=1, le=10000, description="entries per RSS/Atom feed")
    search: SearchConfig = Field(default_factory=SearchConfig, description="the search index (below)")
    subscriptions: SubscriptionsConfig = Field(default_factory=SubscriptionsConfig,
                                               description="email digests and the subscription service (below)")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        v = _http_url(v)
        if "?" in v or "#" in v:
            raise ValueError(f"{v!r}: a base URL has no query or fragment")
        return v if v.endswith("/") else v + "/"

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("languages must not repeat")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return v


# ------------------------------------------------------------------ taxonomies
class TaxonomyEntry(Model):
    name: LocalText


class Issuer(TaxonomyEntry):
    pass


class Topic(TaxonomyEntry):
    description: Optional[LocalText] = None
    foreign: bool = False


class Tag(TaxonomyEntry):
    group: Literal["industry", "audience", "other"] = "other"


class Service(TaxonomyEntry):
    url: HttpUrl


TAXONOMIES = {"issuers": Issuer, "topics": Topic, "tags": Tag, "services": Service}


# --------------------------------------------------------------------- records
class Review(Model):
    by: NonEmpty
    date: Date


class Attachment(Model):
    title: NonEmpty
    file: NonEmpty

    @field_validator("file")
    @classmethod
    def _relative(cls, v: str) -> str:
        parts = v.replace("\\", "/").split("/")
        if v.startswith("/") or ".." in parts or not all(parts):
            raise ValueError(f"{v!r} must be a relative path inside the record's folder")
        return v


class QA(Model):
    q: NonEmpty
    a: NonEmpty


class AppointmentEntry(Model):
    action: Literal["appoint", "remove"]
    name: NonEmpty
    position: NonEmpty
    organization: Optional[str] = None


class Honoree(Model):
    name: NonEmpty
    kind: Literal["person", "organization", "other"] = "other"
    honour: Optional[str] = None


class Feedback(Model):
    email: Optional[Email] = None
    url: Optional[HttpUrl] = None
    address: Optional[str] = None


Scalar = Union[str, int, float, bool]


class RecordBase(Model):
    id: RecordId
    type: Literal[RECORD_TYPES]  # type: ignore[valid-type]
    title: Title
    published: Date
    disclosure: Literal[DISCLOSURES]  # type: ignore[valid-type]
    review: Optional[Review] = None
    audience: list[Key] = Field(default_factory=list)
    issuer: Optional[Union[Key, list[Key]]] = None
    doc_number: Optional[str] = None
    index_number: Optional[str] = None
    written: Optional[Date] = None
    topics: list[Key] = Field(default_factory=list)
    tags: list[Key] = Field(default_factory=list)
    priority: int = 0
    summary: Optional[str] = None
    pii_allow: list[str] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    source_url: Optional[HttpUrl] = None
    # the signing block after the body [发文机关署名, 成文日期] (spec v1.2): `auto`
    # (the issuers' names and the `written` date) or up to 12 lines as given
    signature: Optional[Union[Literal["auto"], Annotated[list[Title], Field(min_length=1, max_length=12)]]] = None
    extra: dict[str, Scalar] = Field(default_factory=dict)

    @property
    def issuers(self) -> list[str]:
        if self.issuer is None:
            return []
        return [self.issuer] if isinstance(self.issuer, str) else list(self.issuer)

    @model_validator(mode="after")
    def _common_rules(self):
        if isinstance(self.issuer, list) and not self.issuer:
            raise ValueError("issuer: the list of issuers is empty")
        return self


class Policy(RecordBase):
    issuer: Union[Key, list[Key]]
    status: Literal[STATUSES] = "effective"  # type: ignore[valid-type]
    effective: Optional[Date] = None
    expires: Optional[Date] = None
    basis: list[RecordId] = Field(default_factory=list)
    related: list[RecordId] = Field(default_factory=list)
    supersedes: list[RecordId] = Field(default_factory=list)
    services: list[Key] = Field(default_factory=list)
    interpretation_required: bool = True

    @model_validator(mode="after")
    def _dates(self):
        if self.effective and self.expires and self.expires < self.effective:
            raise ValueError(f"expires: {self.expires} is before the effective date {self.effective}")
        return self


class Interpretation(RecordBase):
    interprets: RecordId
    form: Literal["text", "graphic", "video", "qa"] = "text"


class Faq(RecordBase):
    policy: RecordId
    entries: list[QA] = Field(min_length=1)


class Appointment(RecordBase):
    issuer: Union[Key, list[Key]]
    entries: list[AppointmentEntry] = Field(min_length=1)


class Commendation(RecordBase):
    issuer: Union[Key, list[Key]]
    honorees: list[Honoree] = Field(default_factory=list)


class Consultation(RecordBase):
    opens: Date
    closes: Date
    feedback: Optional[Feedback] = None
    outcome: Optional[str] = None

    @model_validator(mode="after")
    def _window(self):
        if self.closes < self.opens:
            raise ValueError(f"closes: {self.closes} is before opens {self.opens}")
        return self


RECORD_MODELS: dict[str, type[RecordBase]] = {
    "policy": Policy,
    "interpretation": Interpretation,
    "faq": Faq,
    "appointment": Appointment,
    "commendation": Commendation,
    "consultation": Consultation,
}


class Edition(Model):
    """Front matter of `ID.<lang>.md`: only what may be translated."""

    id: RecordId
    title: Title
    summary: Optional[str] = None
    entries: Optional[list[dict]] = None
    honorees: Optional[list[Honoree]] = None
    outcome: Optional[str] = None
    # spec v1.2: `extra` with the original's entries, labels and values translated;
    # attachment titles, naming the original's files
    extra: Optional[dict[str, Scalar]] = None
    attachments: Optional[list[Attachment]] = None


# ---------------------------------------------------------------------- issues
class IssueSection(Model):
    title: LocalText
    records: list[RecordId] = Field(min_length=1)


class IssueFile(Model):
    year: int = Field(ge=1900, le=2999)
    number: int = Field(ge=1, le=999)
    published: Date
    sections: list[IssueSection] = Field(min_length=1)
    title: Optional[LocalText] = None
