"""Released gazette issues: frozen, versioned, verified on every build.

    archive/issues/YYYY-NN/v1/manifest.json
                             gazette-YYYY-NN.pdf, gazette-YYYY-NN.en.pdf
                             sources/content/...   (the sources as released)

A release freezes an issue's PDFs and the SHA-256 of every source it was made
from.  Builds copy the archived PDFs (never re-render them) after checking
every archived file against its manifest; a changed source makes the build
fail until the editor issues a revision with an erratum, which becomes the
next version.  Earlier versions stay byte for byte as they were.
"""
from __future__ import annotations

import difflib
import hashlib
import html
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import markdown, yamlload
from .markdown import normalize_width
from .errors import Diagnostics, GazetteError
from .model import Issue, Record, Site

ARCHIVE_DIR = Path("archive") / "issues"


@dataclass
class Version:
    issue: str
    number: int
    folder: Path
    released: str
    erratum: str | dict | None  # one text, or {lang: text} (per-language errata, spec v1.2)
    manifest: dict = field(default_factory=dict)

    def erratum_in(self, lang: str, default_lang: str = "zh") -> str | None:
        e = self.erratum
        if isinstance(e, dict):
            return e.get(lang) or e.get(default_lang) or next(iter(e.values()), None)
        return e

    @property
    def pdfs(self) -> list[str]:
        return sorted(name for name in self.manifest.get("files", {}) if name.endswith(".pdf"))

    def source_text(self, rel: str) -> str | None:
        path = self.folder / "sources" / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rel(site: Site, path: Path) -> str:
    return path.resolve().relative_to(site.root.resolve()).as_posix()


def record_files(record: Record) -> list[Path]:
    """Every file a record is made of: original, editions, attachments."""
    files = [ed.path for ed in record.editions.values()]
    folder = record.path.with_name(record.id)
    if folder.is_dir():
        files += [p for p in folder.rglob("*") if p.is_file()]
    return sorted(set(files))


def current_sources(site: Site, issue: Issue) -> tuple[dict[str, str], dict[str, list[str]]]:
    """-> ({relative path: sha256}, {record id: [relative paths]})"""
    sources = {_rel(site, issue.path): sha256(issue.path)}
    records = {}
    for record in issue.records:
        paths = [_rel(site, p) for p in record_files(record)]
        records[record.id] = paths
        for rel, p in zip(paths, record_files(record)):
            sources[rel] = sha256(p)
    return sources, records


def issue_folder(site: Site, key: str) -> Path:
    return site.root / ARCHIVE_DIR / key


def load_versions(site: Site, key: str, diags: Diagnostics | None = None) -> list[Version]:
    folder = issue_folder(site, key)
    versions = []
    if not folder.is_dir():
        return versions
    for sub in sorted(folder.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not (sub.is_dir() and sub.name.startswith("v") and sub.name[1:].isdigit()):
            continue
        manifest_path = sub / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if diags is not None:
                diags.error(manifest_path, None, None, f"unreadable release manifest ({exc}); restore it from version control")
            continue
        versions.append(Version(key, int(sub.name[1:]), sub, manifest.get("released", ""), manifest.get("erratum"), manifest))
    return versions


def verify(site: Site, diags: Diagnostics, compare_sources: bool = True, preview: bool = False) -> dict[str, list[Version]]:
    """Check every archived file and (unless revising) compare released issues
    with their sources.  `preview` (gazette serve): a change to a released issue
    is a warning (field "released") the preview shows, not an error; `build`
    still refuses it."""
    releases: dict[str, list[Version]] = {}
    root = site.root / ARCHIVE_DIR
    if not root.is_dir():
        return releases
    known = {i.key: i for i in site.issues}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        key = folder.name
        versions = load_versions(site, key, diags)
        if not versions:
            continue
        for version in versions:
            _verify_files(version, diags)
        if [v.number for v in versions] != list(range(1, len(versions) + 1)):
            diags.error(folder, None, None, f"released versions of issue {key} are not v1..vN: {[v.folder.name for v in versions]}")
        issue = known.get(key)
        if issue is None:
            diags.error(folder, None, None, f"issue {key} was released, but content/issues/{key}.yaml is missing or not published")
            continue
        releases[key] = versions
        if compare_sources:
            _compare_sources(site, issue, versions[-1], diags, preview)
    return releases


def _verify_files(version: Version, diags: Diagnostics) -> None:
    files = version.manifest.get("files", {})
    for name, digest in sorted(files.items()):
        path = version.folder / name
        if not path.is_file():
            diags.error(path, None, None, f"released file is missing (issue {version.issue} v{version.number}); restore it from version control")
        elif sha256(path) != digest:
            diags.error(path, None, None, f"released file was modified after release (issue {version.issue} v{version.number}): "
                                         "released issues never change; restore it from version control")
    listed = {version.folder / n for n in files} | {version.folder / "manifest.json"}
    for path in sorted(p for p in version.folder.rglob("*") if p.is_file()):
        if path not in listed:
            diags.error(path, None, None, f"file added to released issue {version.issue} v{version.number} after release")


def _compare_sources(site: Site, issue: Issue, latest: Version, diags: Diagnostics, preview: bool = False) -> None:
    released = latest.manifest.get("sources", {})
    if preview:
        def report(path, line, field, message):
            diags.warning(path, line, "released", message)
    else:
        report = diags.error
    now, by_record = current_sources(site, issue)
    hint = f"run: gazette issue revise {issue.key} --erratum \"…\""
    if now.get(_rel(site, issue.path)) != released.get(_rel(site, issue.path)):
        report(issue.path, None, None, f"issue {issue.key} changed since it was released as v{latest.number}; {hint}")
    released_records = latest.manifest.get("records", {})
    for rid in sorted(set(released_records) - set(by_record)):
        report(issue.path, None, None, f"record {rid} of issue {issue.key} (released as v{latest.number}) is no longer "
                    f"in the issue; if it must stop being public, withdraw it: gazette issue withdraw {issue.key} {rid} "
                    "--reason \"…\"")
    for rid in sorted(by_record):
        paths = set(by_record.get(rid, [])) | set(released_records.get(rid, []))
        if any(now.get(p) != released.get(p) for p in paths):
            record = site.records.get(rid)
            where = record.path if record else issue.path
            report(where, None, None, f"record {rid} changed since issue {issue.key} was released as v{latest.number}; {hint}")


def changed_since(site: Site, issue: Issue, latest: Version) -> bool:
    now, by_record = current_sources(site, issue)
    return now != latest.manifest.get("sources", {}) or by_record != latest.manifest.get("records", {})


# -------------------------------------------------------------- release
def write_version(site: Site, issue: Issue, pdf_renderer, number: int, erratum: str | dict | None,
                  withdrawal: dict | None = None) -> Version:
    folder = issue_folder(site, issue.key) / f"v{number}"
    if folder.exists():
        raise GazetteError(f"{folder} exists already; released versions are never overwritten")
    staging = folder.with_name(f".v{number}.staging")
    if folder.parent.is_dir():  # what an interrupted release left behind
        for stale in folder.parent.glob(".v*.staging"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
    staging.mkdir(parents=True)
    released = site.build_time.isoformat()
    files: dict[str, str] = {}
    try:
        for lang in pdf_renderer.issue_languages(issue):
            name = pdf_renderer.issue_pdf_name(issue.key, lang, site.default_lang)
            text = Version(issue.key, number, folder, released, erratum).erratum_in(lang, site.default_lang)
            html_doc = pdf_renderer.issue_html(issue, lang, version=number, erratum=text, released=released[:10])
            data = pdf_renderer.render_now(html_doc)
            (staging / name).write_bytes(data)
            files[name] = hashlib.sha256(data).hexdigest()
        sources, records = current_sources(site, issue)
        for rel in sorted(sources):
            target = staging / "sources" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site.root / rel, target)
            files[f"sources/{rel}"] = sources[rel]
        manifest = {"issue": issue.key, "version": number, "released": released, "erratum": erratum,
                    "sources": sources, "records": records, "files": dict(sorted(files.items()))}
        if withdrawal:
            manifest["withdrawal"] = withdrawal
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Version(issue.key, number, folder, released, erratum, manifest)


def find_issue(site: Site, key: str) -> Issue:
    for issue in site.issues:
        if issue.key == key:
            return issue
    m = re.fullmatch(r"\s*(\d{4})\s*[-_/.年第]\s*0*(\d{1,2})\s*期?\s*", normalize_width(key))
    if m:
        guess = f"{m.group(1)}-{int(m.group(2)):02d}"
        if guess != key and any(i.key == guess for i in site.issues):
            raise GazetteError(f"no issue {key}: did you mean {guess}? (issues are numbered YYYY-NN)")
    raise GazetteError(f"no published issue {key} (content/issues/{key}.yaml, published on or before {site.build_date})")


_ERRATUM_PREFIX = re.compile(r"^\s*(?:更正说明|更正|勘误|erratum|correction)\s*[:：]\s*", re.I)


def clean_erratum(text: str | None, what: str = "the erratum") -> str:
    """An erratum as entered, less a leading "更正：" or "Erratum:" (the page
    and the PDF cover put their own label before it)."""
    if not text or not text.strip():
        raise GazetteError("a revision needs an erratum (--erratum \"…\") saying what was corrected")
    if any(c in text for c in "\r\0"):
        raise GazetteError(f"{what} must be plain text")
    out = _ERRATUM_PREFIX.sub("", text.strip()).strip()
    if not out:
        raise GazetteError(f"{what} says nothing beyond its label")
    return out


def release(site: Site, key: str, pdf_renderer) -> Version:
    issue = find_issue(site, key)
    versions = load_versions(site, key)
    if versions:
        raise GazetteError(f"issue {key} is already released (v{versions[-1].number}); a change goes out as a revision: "
                           f"gazette issue revise {key} --erratum \"…\"")
    return write_version(site, issue, pdf_renderer, 1, None)


def revise(site: Site, key: str, erratum: str | dict, pdf_renderer) -> Version:
    """Release the changed issue as its next version.  `erratum` is one text (in
    the site's language) or {lang: text}, one per language."""
    issue = find_issue(site, key)
    texts = erratum if isinstance(erratum, dict) else {site.default_lang: erratum}
    for lang in texts:
        if lang not in site.languages:
            raise GazetteError(f"an erratum in '{lang}', which is not one of the site's languages ({', '.join(site.languages)})")
    if site.default_lang not in texts:
        raise GazetteError("a revision needs an erratum in the site's language (--erratum \"…\")")
    cleaned = {lang: clean_erratum(text, f"the {lang} erratum") for lang, text in texts.items()}
    versions = load_versions(site, key)
    if not versions:
        raise GazetteError(f"issue {key} has not been released yet: gazette issue release {key}")
    if not changed_since(site, issue, versions[-1]):
        raise GazetteError(f"nothing in issue {key} changed since v{versions[-1].number}; there is nothing to revise")
    return write_version(site, issue, pdf_renderer, versions[-1].number + 1,
                         cleaned[site.default_lang] if len(cleaned) == 1 else cleaned)


def withdrawal_notice(date: str, reason: str, lang: str) -> str:
    """The public notice: date and reason, never the record's title or text."""
    from . import i18n

    return i18n.t("withdrawal_notice", lang, date=date, reason=reason)


def withdraw(site: Site, key: str, record_id: str, reason: str, pdf_renderer) -> Version:
    """Release issue KEY again without RECORD, with a notice of withdrawal.

    The editor first takes the record out of content/issues/KEY.yaml and
    makes it non-public (or deletes it).  Earlier versions stay in the archive
    byte for byte; the build publishes, in place of every earlier version
    that contained the record, the notice and the new version."""
    issue = find_issue(site, key)
    reason = (reason or "").strip()
    if not reason:
        raise GazetteError("a withdrawal needs a public reason (--reason \"…\")")
    if any(ord(c) < 0x20 for c in reason):
        raise GazetteError("the reason must be one line of plain text")
    versions = load_versions(site, key)
    if not versions:
        raise GazetteError(f"issue {key} has not been released; nothing to withdraw from (just edit the issue)")
    affected = [v.number for v in versions if record_id in v.manifest.get("records", {})]
    if not affected:
        raise GazetteError(f"record {record_id} is in no released version of issue {key}")
    if record_id not in versions[-1].manifest.get("records", {}):
        raise GazetteError(f"record {record_id} was already withdrawn from issue {key}")
    if any(r.id == record_id for r in issue.records):
        raise GazetteError(f"first remove {record_id} from content/issues/{key}.yaml, then withdraw it")
    record = site.records.get(record_id)
    if record is not None and record.public:
        raise GazetteError(f"record {record_id} is still public: change its disclosure (e.g. `disclosure: not-public`) "
                           "or remove it, then withdraw it")
    date = site.build_date.isoformat()
    withdrawal = {"record": record_id, "date": date, "reason": reason, "versions": affected}
    notice = withdrawal_notice(date, reason, site.default_lang)
    return write_version(site, issue, pdf_renderer, versions[-1].number + 1, notice, withdrawal)


def withdrawn_versions(versions: list[Version]) -> dict[int, list[dict]]:
    """Version number -> the withdrawals that replace it in the public output."""
    out: dict[int, list[dict]] = {}
    for version in versions:
        w = version.manifest.get("withdrawal")
        if isinstance(w, dict):
            for number in w.get("versions", []):
                out.setdefault(int(number), []).append(w)
    return out


# -------------------------------------------------------------- history
def redline(old: str, new: str) -> str:
    """HTML diff of two texts: lines first, then characters within changed lines
    (Chinese has no spaces, so words are characters)."""
    out = []
    a, b = old.splitlines(), new.splitlines()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "delete":
            out += [f"<p><del>{html.escape(l)}</del></p>" for l in a[i1:i2]]
        elif op == "insert":
            out += [f"<p><ins>{html.escape(l)}</ins></p>" for l in b[j1:j2]]
        else:
            out.append("<p>" + _char_diff("\n".join(a[i1:i2]), "\n".join(b[j1:j2])) + "</p>")
    return "\n".join(out)


def _char_diff(old: str, new: str) -> str:
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(html.escape(old[i1:i2]))
        if op in ("delete", "replace"):
            parts.append(f"<del>{html.escape(old[i1:i2])}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{html.escape(new[j1:j2])}</ins>")
    return "".join(parts).replace("\n", "<br>")


def _is_edition(rel: str, rid: str) -> bool:
    """The record's own text files (ID.md, ID.LANG.md), not files of its folder ID/."""
    parts = rel.split("/")
    name, folder = parts[-1], (parts[-2] if len(parts) > 1 else "")
    if folder == rid:  # inside the record's attachment folder
        return False
    return name == f"{rid}.md" or re.fullmatch(re.escape(rid) + r"\.[a-z]{2,3}(?:-[A-Za-z0-9]+)*\.md", name) is not None


_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|tr|blockquote|pre|dd|dt)>|<br\s*/?>", re.I)


def public_text(source: str | None) -> str:
    """What readers saw of a record file: its title and its body as published
    (sanitised, comments gone), one block per line.  Front matter (reviewers,
    pii_allow, internal notes) never reaches the public redline."""
    from .sources import FileProblem, split_front_matter

    if not source:
        return ""
    try:
        front, body, _ = split_front_matter(source)
        data = yamlload.load(front).data
    except (FileProblem, yamlload.YamlError):
        return ""
    title = data.get("title") if isinstance(data, dict) and isinstance(data.get("title"), str) else ""
    text = _BLOCK_END.sub("\n", markdown.render(body))
    lines = [html.unescape(re.sub(r"<[^>]+>", "", line)).strip() for line in text.split("\n")]
    return "\n".join([title] + [line for line in lines if line])


@dataclass
class HistoryEntry:
    version: Version
    diff_html: str | None  # None: unchanged in this version
    previous: Version | None = None


def record_history(site: Site, releases: dict[str, list[Version]]) -> dict[str, list[HistoryEntry]]:
    """For records of released issues with more than one version: each version,
    and what changed in it."""
    history: dict[str, list[HistoryEntry]] = {}
    for key, versions in sorted(releases.items()):
        if len(versions) < 2:
            continue
        ids = sorted({rid for v in versions for rid in v.manifest.get("records", {})})
        for rid in ids:
            entries = []
            for i, version in enumerate(versions):
                if i == 0:
                    entries.append(HistoryEntry(version, None))
                    continue
                prev = versions[i - 1]
                diffs = []
                paths = sorted(set(prev.manifest.get("records", {}).get(rid, [])) | set(version.manifest.get("records", {}).get(rid, [])))
                for rel in paths:
                    if prev.manifest["sources"].get(rel) != version.manifest["sources"].get(rel) and _is_edition(rel, rid):
                        old, new = public_text(prev.source_text(rel)), public_text(version.source_text(rel))
                        if old != new:
                            diffs.append(redline(old, new))
                entries.append(HistoryEntry(version, "\n".join(diffs) if diffs else None, prev))
            if any(e.diff_html for e in entries):
                history[rid] = entries
    return history
