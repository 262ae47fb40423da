"""The site as plain data: records, editions, issues, taxonomies.  No I/O."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .schema import RecordBase, SiteConfig


def localize(text: dict | None, lang: str, default_lang: str) -> str:
    """Text in `lang`, else in the default language, else any."""
    if not text:
        return ""
    return text.get(lang) or text.get(default_lang) or next(iter(text.values()))


@dataclass
class RecordEdition:
    """A record in one language: the original or a translation."""

    lang: str
    path: Path
    title: str
    summary: str | None
    body_html: str
    lines: dict = field(default_factory=dict)
    entries: list | None = None  # translated FAQ / appointment entries
    honorees: list | None = None
    outcome: str | None = None
    images: list = field(default_factory=list)  # files of the record's folder ID/ that the body shows
    extra: dict | None = None  # translated `extra` (labels and values)
    attachment_titles: dict = field(default_factory=dict)  # file -> translated title


@dataclass(repr=False, eq=False)
class Record:
    id: str
    meta: RecordBase
    path: Path
    lines: dict
    editions: dict[str, RecordEdition]  # lang -> edition; the original is under the default language
    public: bool = False
    # filled by resolve, public records only
    interpretations: list["Record"] = field(default_factory=list)
    faqs: list["Record"] = field(default_factory=list)
    basis: list["Record"] = field(default_factory=list)
    basis_of: list["Record"] = field(default_factory=list)
    related: list["Record"] = field(default_factory=list)
    supersedes: list["Record"] = field(default_factory=list)
    superseded_by: list["Record"] = field(default_factory=list)
    interprets: "Record | None" = None
    faq_of: "Record | None" = None
    issue: "Issue | None" = None
    digest: str = ""  # of its files and whether it is public (keys.record_digest): what incremental builds compare
    head: str = ""  # of its files' front matters and whether it is public: what the catalogue shows of it

    @property
    def type(self) -> str:
        return self.meta.type

    @property
    def published(self) -> dt.date:
        return self.meta.published

    @property
    def year(self) -> int:
        return self.meta.published.year

    def __repr__(self) -> str:
        return f"<Record {self.id} {self.meta.type}{' public' if self.public else ''}>"

    def line(self, *path) -> int | None:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def title(self, lang: str) -> str:
        ed = self.editions.get(lang)
        return ed.title if ed else self.meta.title

    def has(self, lang: str) -> bool:
        return lang in self.editions

    def sort_key(self):
        """Newest first; then higher priority; then id for a stable order."""
        return (-self.meta.published.toordinal(), -self.meta.priority, self.id)

    # ------------------------------------------------ rules that depend on the date
    # (used alike by pages, PDFs, JSON, feeds and mail; `today` is the build date,
    # or for a released issue's PDF the issue's date)
    def validity(self, today: dt.date) -> str:
        """A policy's validity [有效性] on `today`: effective, amended, repealed,
        expired, unknown, or not-yet (in force from a later date); '' for other types."""
        meta = self.meta
        if meta.type != "policy":
            return ""
        if meta.status != "effective":
            return meta.status
        if meta.expires and meta.expires < today:
            return "expired"
        if meta.effective and meta.effective > today:
            return "not-yet"
        return "effective"

    def consultation_state(self, today: dt.date) -> dict:
        """A consultation's phase on `today`: upcoming, open (with days left) or closed."""
        meta = self.meta
        if today < meta.opens:
            return {"state": "upcoming", "days_left": None}
        if today > meta.closes:
            return {"state": "closed", "days_left": None}
        return {"state": "open", "days_left": (meta.closes - today).days}

    def state_since(self, today: dt.date) -> dt.date | None:
        """When the record's date-derived state (validity from `effective` and
        `expires`, a consultation's phase) began, as of `today`; None when its
        state does not depend on the date (an explicit status, no dates)."""
        meta = self.meta
        one_day = dt.timedelta(days=1)
        if meta.type == "consultation":
            if today < meta.opens:
                return meta.published
            return meta.opens if today <= meta.closes else meta.closes + one_day
        if meta.type != "policy" or meta.status != "effective" or not (meta.effective or meta.expires):
            return None
        state = self.validity(today)
        if state == "expired":
            return meta.expires + one_day
        if state == "not-yet":
            return meta.published
        return meta.effective if meta.effective and meta.effective <= today else meta.published


@dataclass
class IssueSection:
    title: dict
    records: list[Record]


@dataclass(repr=False, eq=False)
class Issue:
    key: str  # YYYY-NN
    year: int
    number: int
    published: dt.date
    sections: list[IssueSection]
    path: Path
    title: dict | None = None
    digest: str = ""  # its key and its records' digests (keys.issue_digest)
    head: str = ""  # its key and its records' front matters (what its page shows of them)

    def __repr__(self) -> str:
        return f"<Issue {self.key}>"

    @property
    def records(self) -> list[Record]:
        return [r for s in self.sections for r in s.records]


@dataclass(repr=False, eq=False)
class Site:
    root: Path
    config: SiteConfig
    build_date: dt.date
    build_time: dt.datetime
    taxonomies: dict[str, dict]  # name -> key -> entry
    records: dict[str, Record]  # every record, public or not
    issues: list[Issue] = field(default_factory=list)
    public: list[Record] = field(default_factory=list)  # newest first
    broken: set[str] = field(default_factory=set)  # ids whose file failed to load
    releases: dict = field(default_factory=dict)  # issue key -> [archive.Version], oldest first
    history: dict = field(default_factory=dict)  # record id -> [archive.HistoryEntry]
    # public records grouped once, after resolve: kind (topics, tags, issuers,
    # years, types) -> key -> records, newest first
    groups: dict = field(default_factory=dict)
    cache: Path | None = None  # rendered PDFs and search bundles (RunSettings.cache_dir, else SITE/.gazette-cache)

    def __repr__(self) -> str:
        return f"<Site {self.root} records={len(self.records)} public={len(self.public)}>"

    @property
    def languages(self) -> list[str]:
        return self.config.languages

    @property
    def default_lang(self) -> str:
        return self.config.languages[0]

    def text(self, value: dict | None, lang: str) -> str:
        return localize(value, lang, self.default_lang)


@dataclass(frozen=True)
class RunSettings:
    """What the command line reads from the environment, once, and hands to the
    library (which reads no environment): SOURCE_DATE_EPOCH (the build time, for
    reproducible builds; else now) and GAZETTE_CACHE_DIR (else SITE/.gazette-cache)."""

    source_date_epoch: str | None = None
    cache_dir: Path | None = None

    @classmethod
    def from_environ(cls, environ) -> "RunSettings":
        cache = environ.get("GAZETTE_CACHE_DIR")
        return cls(environ.get("SOURCE_DATE_EPOCH"), Path(cache) if cache else None)
