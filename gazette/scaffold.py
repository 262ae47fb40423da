"""New sites, records and issues for editors: `gazette init`, `gazette new …`.

Everything written here passes `gazette check` as it stands: a new record is
a complete skeleton of its type that is not public until it is reviewed, and a
new issue lists the public records that are in no issue yet.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from . import i18n, resources
from .errors import GazetteError
from .model import Site
from .schema import ID_RE, RECORD_TYPES

STARTER = Path(__file__).resolve().parent / "starter"
GITIGNORE = "/output/\n/.output.*/\n/.gazette-cache/\n/.gazette/\n"  # .output.*: its staging, spare and old folders


def init_site(directory: Path, empty: bool = False) -> None:
    """A copy of the bundled sample gazette, or (empty) a minimal site:
    configuration and taxonomy files, no records."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise GazetteError(f"{directory} exists and is not empty; choose a new folder")
    source = STARTER if empty else resources.sample_site()
    if not (source / "gazette.yaml").is_file():
        raise GazetteError(f"the {'starter' if empty else 'sample'} site is missing from the gazette package ({source}); reinstall gazette")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "gazette.yaml", directory / "gazette.yaml")
    shutil.copytree(source / "content", directory / "content")
    for folder in ("records", "issues"):
        (directory / "content" / folder).mkdir(exist_ok=True)
    (directory / ".gitignore").write_text(GITIGNORE, encoding="utf-8")


# ---------------------------------------------------------------- records
_PLACEHOLDER = {
    "zh": {"title": "（标题）", "body": "（正文）", "q": "（问题）", "a": "（解答）", "name": "（姓名）",
           "position": "（职务）", "honour": "（荣誉称号）"},
    "en": {"title": "(Title)", "body": "(Text of the document.)", "q": "(Question)", "a": "(Answer)",
           "name": "(Name)", "position": "(Position)", "honour": "(Honour)"},
}


def _placeholders(lang: str) -> dict[str, str]:
    return _PLACEHOLDER["zh" if lang.startswith("zh") else "en"]


def _free_id(site: Site, base: str) -> str:
    taken = set(site.records) | site.broken
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _existing_file(site: Site, rid: str) -> Path | None:
    for path in (site.root / "content" / "records").rglob(f"{rid}.md"):
        return path
    return None


def new_record(site: Site, rtype: str, rid: str | None = None, target: str | None = None) -> Path:
    """Write a record skeleton of type `rtype` dated the build date; -> its path.

    `target` is the record an interpretation interprets or a FAQ answers for
    (required for those two types)."""
    if rtype not in RECORD_TYPES:
        raise GazetteError(f"unknown record type '{rtype}' (one of: {', '.join(RECORD_TYPES)})")
    today = site.build_date
    if rid is None:
        rid = _free_id(site, f"{rtype}-{today:%Y-%m%d}")
    elif not ID_RE.match(rid):
        raise GazetteError(f"'{rid}' is not a valid record id (lower-case letters, digits and '-', matching {ID_RE.pattern})")
    if rid in site.records or rid in site.broken or _existing_file(site, rid):
        raise GazetteError(f"a record with id '{rid}' exists already")
    ph = _placeholders(site.default_lang)
    lines = [f"id: {rid}", f"type: {rtype}", f"title: {ph['title']}", f"published: {today.isoformat()}",
             "disclosure: proactive",
             "# Not public until reviewed [先审查、后公开]: add the review when it has passed, e.g.",
             f"# review: {{by: 审查人, date: {today.isoformat()}}}"]
    if rtype in ("policy", "appointment", "commendation"):
        issuers = sorted(site.taxonomies.get("issuers", {}))
        if not issuers:
            raise GazetteError("content/_taxonomy/issuers.yaml has no issuer; add the issuing body there first")
        lines.append(f"issuer: {issuers[0]}  # a key of content/_taxonomy/issuers.yaml")
    if rtype in ("interpretation", "faq"):
        wanted = ("policy", "consultation") if rtype == "interpretation" else ("policy",)
        field_name = "interprets" if rtype == "interpretation" else "policy"
        if not target:
            raise GazetteError(f"a new {rtype} needs --for ID: the {' or '.join(wanted)} record it belongs to")
        other = site.records.get(target)
        if other is None or other.meta.type not in wanted:
            raise GazetteError(f"--for {target}: no {' or '.join(wanted)} record has that id")
        lines.append(f"{field_name}: {target}")
    elif target:
        raise GazetteError(f"--for is only for interpretations and FAQ lists, not {rtype}")
    if rtype == "policy":
        lines += ["status: effective", "# doc_number: 沪府办字〔2024〕5号"]
    elif rtype == "faq":
        lines += ["entries:", f"  - q: {ph['q']}", f"    a: {ph['a']}"]
    elif rtype == "appointment":
        lines += ["entries:", f"  - {{action: appoint, name: {ph['name']}, position: {ph['position']}}}"]
    elif rtype == "commendation":
        lines += ["honorees:", f"  - {{name: {ph['name']}, kind: person, honour: {ph['honour']}}}"]
    elif rtype == "consultation":
        closes = today + dt.timedelta(days=30)
        lines += [f"opens: {today.isoformat()}", f"closes: {closes.isoformat()}",
                  "feedback: {email: feedback@example.gov.cn}"]
    path = site.root / "content" / "records" / str(today.year) / f"{rid}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "---\n" + "\n".join(lines) + "\n---\n" + ph["body"] + "\n"
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- issues
def new_issue(site: Site, key: str) -> Path:
    """Write content/issues/YYYY-NN.yaml listing, by type, the public records
    that are in no issue yet; -> its path."""
    import re

    m = re.fullmatch(r"(\d{4})-(\d{2,})", key)
    if not m or (len(m[2]) > 2 and m[2].startswith("0")) or int(m[2]) == 0:
        raise GazetteError(f"'{key}' is not an issue key: use YYYY-NN, e.g. {site.build_date.year}-05")
    path = site.root / "content" / "issues" / f"{key}.yaml"
    if path.exists() or any(i.key == key for i in site.issues):
        raise GazetteError(f"issue {key} exists already ({path})")
    in_issue = {r.id for issue in site.issues for section in issue.sections for r in section.records}
    waiting = [r for r in site.public if r.id not in in_issue]
    if not waiting:
        raise GazetteError("every public record is in an issue already; there is nothing for a new issue")
    langs = site.languages
    out = [f"year: {int(m[1])}", f"number: {int(m[2])}", f"published: {site.build_date.isoformat()}", "sections:"]
    for rtype in RECORD_TYPES:
        ids = sorted((r for r in waiting if r.meta.type == rtype), key=lambda r: (r.published, r.id))
        if not ids:
            continue
        names = ", ".join(f"{lang}: {i18n.type_name(rtype, lang)}" for lang in langs)
        out.append(f"  - title: {{{names}}}")
        out.append(f"    records: [{', '.join(r.id for r in ids)}]")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return path
