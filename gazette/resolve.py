"""Resolve stage: loaded files -> a consistent `Site`.

The publication rule lives here and only here (`is_public`).  Every later
stage sees `site.public` and the relation lists, which hold public records
only, so a non-public record cannot leak through a listing or a link.
"""
from __future__ import annotations

import datetime as dt
import os

from pydantic import TypeAdapter, ValidationError

from . import review, safefs
from .keys import head_digest, issue_digest, record_digest
from .errors import Diagnostics
from .load import Loaded, LoadedSite
from .model import RecordEdition
from .model import Issue, IssueSection, Record, Site
from .schema import QA, AppointmentEntry, RecordBase

RELATIONS = ("basis", "related", "supersedes")


def is_cleared(meta: RecordBase) -> bool:
    """Cleared for the public: proactive, and reviewed before publication."""
    return meta.disclosure == "proactive" and meta.review is not None and meta.review.date <= meta.published


def is_public(meta: RecordBase, build_date: dt.date) -> bool:
    """The publication rule (content format): cleared, and not in the future."""
    return is_cleared(meta) and meta.published <= build_date


def held_back_reason(meta: RecordBase, build_date: dt.date) -> str | None:
    """Why a record is not public, in a few words (None if it is public)."""
    if meta.disclosure == "targeted":
        return "targeted: emailed to its audience only" + ("" if meta.review else " (once reviewed)")
    if meta.disclosure != "proactive":
        return {"on-request": "on request only (依申请公开)", "not-public": "not public (不予公开)"}.get(
            meta.disclosure, f"disclosure {meta.disclosure}")
    if meta.review is None:
        return "not reviewed (no review)"
    if meta.review.date > meta.published:
        return f"reviewed ({meta.review.date}) after its publication date ({meta.published})"
    if meta.published > build_date:
        return f"scheduled for {meta.published}"
    return None


def held_back(site: "Site") -> list[tuple[Record, str]]:
    """Every record that reaches no public output, and why, in id order."""
    out = []
    for rid in sorted(site.records):
        record = site.records[rid]
        reason = None if record.public else held_back_reason(record.meta, site.build_date)
        if reason:
            out.append((record, reason))
    return out


def is_mailable_targeted(meta: RecordBase, build_date: dt.date) -> bool:
    """A targeted record goes by email, to its audience only, once reviewed and due."""
    return (meta.disclosure == "targeted" and meta.review is not None and meta.review.date <= meta.published
            and meta.published <= build_date and bool(meta.audience))


def resolve(loaded: LoadedSite, diags: Diagnostics) -> Site:
    config = loaded.config
    build_date = loaded.build_time.date()
    site = Site(root=loaded.root, config=config, build_date=build_date, build_time=loaded.build_time,
                taxonomies=loaded.taxonomies, records={})
    for rid in sorted(loaded.originals):
        item = loaded.originals[rid]
        if item.meta is None:
            site.broken.add(rid)
            continue
        record = Record(id=rid, meta=item.meta, path=item.path, lines=item.lines,
                        editions={site.default_lang: make_edition(item, site.default_lang)})
        record.public = is_public(item.meta, build_date)
        site.records[rid] = record
    _attach_editions(loaded, site, diags)
    _check_pii(loaded, site, diags)
    for record in site.records.values():
        _check_record_rules(record, diags)
        _check_taxonomy_keys(record, site, diags)
        _check_attachments(record, diags)
    _link_relations(loaded, site, diags)
    _check_supersedes_cycles(site, diags)
    site.public = sorted((r for r in site.records.values() if r.public), key=Record.sort_key)
    site.groups = group_public(site.public)
    _resolve_issues(loaded, site, diags)
    _review_warnings(site, diags)
    _digests(loaded, site)
    return site


def _digests(loaded: LoadedSite, site: Site) -> None:
    shas: dict[str, list[str]] = {}
    heads: dict[str, list[str]] = {}
    for item in sorted(loaded.editions, key=lambda e: (e.id, e.lang)):
        shas.setdefault(item.id, []).append(f"{item.lang}:{item.sha256}")
        heads.setdefault(item.id, []).append(f"{item.lang}:{item.head_sha256}")
    for rid, record in site.records.items():
        files = [loaded.originals[rid].sha256] + shas.get(rid, [])
        record.digest = record_digest(files, os.path.join(os.path.dirname(record.path), rid), record.public)
        record.head = head_digest([loaded.originals[rid].head_sha256] + heads.get(rid, []), record.public)
    for issue in site.issues:
        issue.digest = issue_digest(issue)
        issue.head = issue_digest(issue, heads=True)


def _attach_editions(loaded: LoadedSite, site: Site, diags: Diagnostics) -> None:
    qa_list = TypeAdapter(list[QA])
    appt_list = TypeAdapter(list[AppointmentEntry])
    for item in sorted(loaded.editions, key=lambda e: (e.id, e.lang)):
        if item.id not in loaded.originals:
            diags.error(item.path, 1, None, f"'{item.lang}' edition of '{item.id}', but there is no original {item.id}.md")
            continue
        record = site.records.get(item.id)
        if record is None or item.meta is None:
            continue  # the original's or the edition's own errors are reported already
        if item.lang in record.editions:
            diags.error(item.path, 1, None, f"a second {item.lang} edition of '{item.id}'")
            continue
        edition = make_edition(item, item.lang)
        entries = item.meta.entries
        if entries is not None:
            adapter = {"faq": qa_list, "appointment": appt_list}.get(record.type)
            if adapter is None:
                diags.warning(item.path, item.lines.get(("entries",)), "entries", f"a {record.type} has no entries to translate; ignored")
            else:
                try:
                    edition.entries = adapter.validate_python(entries, strict=True)
                    if len(edition.entries) != len(record.meta.entries):
                        diags.error(item.path, item.lines.get(("entries",)), "entries",
                                    f"{_entries(len(edition.entries))}, but the original has {len(record.meta.entries)}")
                        edition.entries = None
                except ValidationError as exc:
                    for err in exc.errors(include_url=False):
                        loc = ("entries",) + tuple(err["loc"])
                        diags.error(item.path, item.lines.get(loc[:2]) or item.lines.get(("entries",)),
                                    ".".join(str(p) for p in loc), err["msg"])
        _translated_extras(item, record, edition, diags)
        record.editions[item.lang] = edition


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _translated_extras(item, record: Record, edition, diags: Diagnostics) -> None:
    """An edition's `extra` (the original's entries, translated) and attachment
    titles (naming the original's files), spec v1.2."""
    meta = item.meta
    if meta.extra is not None:
        if len(meta.extra) != len(record.meta.extra):
            diags.error(item.path, item.lines.get(("extra",)), "extra",
                        f"{_entries(len(meta.extra))}, but the original has {len(record.meta.extra)}: translate each "
                        "of the original's labels and values")
        else:
            edition.extra = {str(k): v for k, v in meta.extra.items()}
    files = {a.file for a in record.meta.attachments}
    for i, att in enumerate(meta.attachments or []):
        if att.file not in files:
            diags.error(item.path, item.lines.get(("attachments", i, "file")) or item.lines.get(("attachments",)),
                        f"attachments[{i}].file", f"'{att.file}' is not one of the original's attachments"
                        + (f" ({', '.join(sorted(files))})" if files else " (it has none)"))
        else:
            edition.attachment_titles[att.file] = att.title


def _check_pii(loaded: LoadedSite, site: Site, diags: Diagnostics) -> None:
    for item in list(loaded.originals.values()) + loaded.editions:
        record = site.records.get(item.id)
        if record is None or record.meta.disclosure not in ("proactive", "targeted"):
            continue
        for line, text, kind in item.pii:
            if not review.allowed(text, record.meta.pii_allow):
                diags.error(item.path, line, None,
                            f"looks like a {kind} ({review.mask(text)}); remove it, or list it under pii_allow if it "
                            "may be published")
    for rid in sorted(loaded.originals):
        record = site.records.get(rid)
        if record is not None and record.meta.disclosure in ("proactive", "targeted"):
            _check_attachment_pii(record, diags)


def _check_attachment_pii(record: Record, diags: Diagnostics) -> None:
    """Attachments are published too: the same check on their text."""
    folder = record.path.with_name(record.id)
    for i, att in enumerate(record.meta.attachments):
        path = folder / att.file
        if safefs.problem(path, folder, "") or not path.is_file():
            continue  # reported by _check_attachments
        text, note = review.attachment_text(path)
        where = (record.line("attachments", i, "file"), f"attachments[{i}].file")
        if note:
            diags.warning(record.path, *where, f"attachment '{att.file}' {note}")
        for line, hit, kind in review.find_pii(text or ""):
            if not review.allowed(hit, record.meta.pii_allow):
                diags.error(record.path, *where, f"attachment '{att.file}', line {line}, looks like a {kind} "
                            f"({review.mask(hit)}); remove it, or list it under pii_allow if it may be published")


def _check_record_rules(record: Record, diags: Diagnostics) -> None:
    meta = record.meta
    if meta.review and meta.review.date > meta.published:
        diags.error(record.path, record.line("review", "date"), "review.date",
                    f"the review ({meta.review.date}) is after publication ({meta.published}); review first, publish after")
    if meta.disclosure == "targeted" and not meta.audience:
        diags.error(record.path, record.line("disclosure"), "audience",
                    "a targeted record needs an audience (a list of tag keys)")


def _check_taxonomy_keys(record: Record, site: Site, diags: Diagnostics) -> None:
    meta = record.meta
    checks = [("issuer", "issuers", meta.issuers), ("topics", "topics", meta.topics),
              ("tags", "tags", meta.tags), ("audience", "tags", meta.audience),
              # only some types have services (a missing attribute of a model is slow to ask for)
              ("services", "services", meta.services if "services" in type(meta).model_fields else [])]
    for field, taxonomy, keys in checks:
        if not keys:
            continue
        known = site.taxonomies.get(taxonomy, {})
        for i, key in enumerate(keys):
            if key not in known:
                where = (field, i) if isinstance(getattr(meta, field), list) else (field,)
                diags.error(record.path, record.line(*where), field,
                            f"unknown {taxonomy[:-1]} '{key}' (not in content/_taxonomy/{taxonomy}.yaml)")
        if len(keys) > 1 and len(set(keys)) != len(keys):
            diags.warning(record.path, record.line(field), field, "lists a key more than once")


# Files a browser runs as a document of the site's own origin: published next
# to the pages, their scripts could read and change anything on the site.
ACTIVE_SUFFIXES = (".html", ".htm", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".xslt",
                   ".js", ".mjs", ".swf", ".mht", ".mhtml")


def _active(name: str) -> bool:
    return name.lower().endswith(ACTIVE_SUFFIXES)


def _check_attachments(record: Record, diags: Diagnostics) -> None:
    folder = record.path.with_name(record.id)
    for edition in record.editions.values():
        for rel in edition.images:
            problem = safefs.problem(folder / rel, folder, f"the record's folder {record.id}/")
            if not problem and _active(rel):
                problem = "is a web document (SVG, HTML or XML) that could run script on the site; use PNG or JPEG"
            if problem:
                line = next((n for n, text in enumerate(edition.path.read_text(encoding="utf-8").split("\n"), 1) if rel in text), None)
                diags.error(edition.path, line, "body", f"the image '{rel}' {problem if (folder / rel).exists() or (folder / rel).is_symlink() else f'is not in the record folder {record.id}/'}")
    for i, att in enumerate(record.meta.attachments):
        path = folder / att.file
        if not path.exists() and not path.is_symlink():
            diags.error(record.path, record.line("attachments", i, "file"), f"attachments[{i}].file",
                        f"attachment '{att.file}' not found in {record.id}/")
            continue
        problem = safefs.problem(path, folder, f"the record's folder {record.id}/")
        if problem:
            diags.error(record.path, record.line("attachments", i, "file"), f"attachments[{i}].file",
                        f"attachment '{att.file}' {problem}")
        elif _active(att.file):
            diags.error(record.path, record.line("attachments", i, "file"), f"attachments[{i}].file",
                        f"attachment '{att.file}' is a web document (HTML, SVG, XML or script) that would run on the "
                        "site's own pages; publish it as PDF, PNG or a ZIP archive instead")


def _target(record: Record, field: str, index, target_id: str, site: Site, diags: Diagnostics) -> Record | None:
    where = (field, index) if index is not None else (field,)
    label = f"{field}[{index}]" if index is not None else field
    target = site.records.get(target_id)
    if target is None and target_id in site.broken:
        return None  # its own errors are reported
    if target is None:
        diags.error(record.path, record.line(*where), label, f"names '{target_id}', which is not a record")
        return None
    if target_id == record.id:
        diags.error(record.path, record.line(*where), label, "a record cannot name itself")
        return None
    if record.public and not target.public:
        diags.error(record.path, record.line(*where), label,
                    f"names '{target_id}', which is not public (not proactive, not reviewed, or published later); a public record may only name public records")
        return None
    return target


def _link_relations(loaded: LoadedSite, site: Site, diags: Diagnostics) -> None:
    for record in site.records.values():
        meta = record.meta
        for field in RELATIONS:
            for i, tid in enumerate(getattr(meta, field, [])):
                target = _target(record, field, i, tid, site, diags)
                if target is None or not (record.public and target.public):
                    continue
                if field == "basis":
                    record.basis.append(target)
                    target.basis_of.append(record)
                elif field == "related":
                    record.related.append(target)
                    if record not in target.related:
                        target.related.append(record)
                else:
                    record.supersedes.append(target)
                    target.superseded_by.append(record)
        if meta.type == "interpretation":
            target = _target(record, "interprets", None, meta.interprets, site, diags)
            if target is not None and target.type not in ("policy", "consultation"):
                diags.error(record.path, record.line("interprets"), "interprets",
                            f"'{target.id}' is a {target.type}; an interpretation interprets a policy or a consultation")
            elif target is not None and record.public and target.public:
                record.interprets = target
                target.interpretations.append(record)
        elif meta.type == "faq":
            target = _target(record, "policy", None, meta.policy, site, diags)
            if target is not None and target.type != "policy":
                diags.error(record.path, record.line("policy"), "policy",
                            f"'{target.id}' is a {target.type}; a FAQ list belongs to a policy")
            elif target is not None and record.public and target.public:
                record.faq_of = target
                target.faqs.append(record)
    for record in site.records.values():
        for name in ("interpretations", "faqs", "basis", "basis_of", "related", "supersedes", "superseded_by"):
            getattr(record, name).sort(key=Record.sort_key)


def _check_supersedes_cycles(site: Site, diags: Diagnostics) -> None:
    graph = {rid: [t for t in getattr(r.meta, "supersedes", []) if t in site.records] for rid, r in site.records.items()}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset] = set()
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    rec = site.records[node]
                    diags.error(rec.path, rec.line("supersedes"), "supersedes",
                                "supersedes cycle: " + " -> ".join(cycle))
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph[child])))


def _resolve_issues(loaded: LoadedSite, site: Site, diags: Diagnostics) -> None:
    seen: dict[str, str] = {}
    for path, data, lines in sorted(loaded.issues, key=lambda x: (x[1].year, x[1].number)):
        key = f"{data.year}-{data.number:02d}"
        scheduled = data.published > site.build_date  # not published yet: its records may be scheduled too
        sections = []
        for si, section in enumerate(data.sections):
            records = []
            for ri, rid in enumerate(section.records):
                line = lines.get(("sections", si, "records", ri))
                label = f"sections[{si}].records[{ri}]"
                record = site.records.get(rid)
                if record is None and rid in site.broken:
                    continue
                if record is None:
                    diags.error(path, line, label, f"'{rid}' is not a record")
                elif not (record.public or (scheduled and is_cleared(record.meta))):
                    diags.error(path, line, label, f"'{rid}' is not public; an issue lists only public records")
                elif rid in seen:
                    diags.error(path, line, label, f"'{rid}' is already in {'this issue' if seen[rid] == key else 'issue ' + seen[rid]}")
                elif record.published > data.published:
                    diags.error(path, line, label, f"'{rid}' is published {record.published}, after the issue ({data.published})")
                else:
                    seen[rid] = key
                    records.append(record)
            sections.append(IssueSection(title=section.title, records=records))
        if data.published > site.build_date:
            continue  # scheduled issue: not published yet
        issue = Issue(key=key, year=data.year, number=data.number, published=data.published,
                      sections=sections, path=path, title=data.title)
        for record in issue.records:
            record.issue = issue
        site.issues.append(issue)
    site.issues.sort(key=lambda i: (i.year, i.number), reverse=True)


def _review_warnings(site: Site, diags: Diagnostics) -> None:
    foreign = {k for k, t in site.taxonomies.get("topics", {}).items() if t.foreign}
    for record in site.public:
        meta = record.meta
        if meta.type == "policy" and meta.interpretation_required:
            if not any(i.published == record.published for i in record.interpretations):
                diags.warning(record.path, record.line("interpretation_required") or record.line("id"), "interpretation_required",
                              f"no interpretation published on the same day ({record.published}); publish one with the policy, or set interpretation_required: false")
        if "en" in site.languages and "en" != site.default_lang and foreign.intersection(meta.topics) and not record.has("en"):
            topic = sorted(foreign.intersection(meta.topics))[0]
            diags.warning(record.path, record.line("topics"), "topics",
                          f"in the foreign-affairs topic '{topic}' but has no English edition ({record.id}.en.md)")


def make_edition(loaded: Loaded, lang: str) -> RecordEdition:
    meta = loaded.meta
    if loaded.lang is None:
        return RecordEdition(lang=lang, path=loaded.path, title=meta.title, summary=meta.summary,
                             body_html=loaded.body_html, lines=loaded.lines, images=loaded.images)
    return RecordEdition(lang=lang, path=loaded.path, title=meta.title, summary=meta.summary,
                         body_html=loaded.body_html, lines=loaded.lines, images=loaded.images,
                         honorees=meta.honorees, outcome=meta.outcome)


GROUPINGS = {"topics": lambda r: r.meta.topics, "tags": lambda r: r.meta.tags, "issuers": lambda r: r.meta.issuers,
             "years": lambda r: [r.year], "types": lambda r: [r.type]}


def group_public(public: list[Record]) -> dict[str, dict]:
    """kind -> key -> public records, newest first (the order of `public`):
    what listings, feeds and the home page show, grouped once."""
    groups: dict[str, dict] = {kind: {} for kind in GROUPINGS}
    for record in public:
        for kind, keys_of in GROUPINGS.items():
            for key in dict.fromkeys(keys_of(record)):
                groups[kind].setdefault(key, []).append(record)
    return groups
