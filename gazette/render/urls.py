"""The URL scheme.  Every URL derives from ids and keys, never from titles.

Paths are relative to the output root and name folders ("records/x/"), whose
page is index.html; pages link to each other with relative URLs, so a site
works from any sub-path of its base_url (and from a preview server).
"""
from __future__ import annotations

from urllib.parse import urlsplit


class Urls:
    def __init__(self, languages: list[str], base_url: str):
        self.default = languages[0]
        self.base_url = base_url
        self.base_path = urlsplit(base_url).path or "/"

    def prefix(self, lang: str) -> str:
        return "" if lang == self.default else f"{lang}/"

    def home(self, lang):
        return self.prefix(lang)

    def record(self, record_id: str, lang: str) -> str:
        return f"{self.prefix(lang)}records/{record_id}/"

    def record_json(self, record_id: str) -> str:
        return f"data/records/{record_id}.json"

    def attachment(self, record_id: str, file: str) -> str:
        return f"records/{record_id}/files/{file}"

    def taxonomy(self, name: str, key: str | None, lang: str) -> str:
        return f"{self.prefix(lang)}{name}/" + (f"{key}/" if key else "")

    def type_(self, rtype: str | None, lang: str) -> str:
        return f"{self.prefix(lang)}types/" + (f"{rtype}/" if rtype else "")

    def record_pdf(self, record_id: str, lang: str) -> str:
        """A record's PDF: records/ID/ID.pdf, records/ID/ID.en.pdf (beside the
        page of its language)."""
        suffix = "" if lang == self.default else f".{lang}"
        return f"{self.record(record_id, lang)}{record_id}{suffix}.pdf"

    @staticmethod
    def issue_pdf_name(key: str, lang: str, default: str) -> str:
        """An issue's PDF file name (in its folder, and in the archive)."""
        return f"gazette-{key}{'' if lang == default else '.' + lang}.pdf"

    def in_force(self, lang: str) -> str:
        """The listing of policies in force [现行有效]."""
        return f"{self.type_('policy', lang)}in-force/"

    def year(self, year: int | None, lang: str) -> str:
        return f"{self.prefix(lang)}years/" + (f"{year}/" if year else "")

    def issue(self, key: str | None, lang: str) -> str:
        return f"{self.prefix(lang)}issues/" + (f"{key}/" if key else "")

    @staticmethod
    def paged(base: str, n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"

    def absolute(self, path: str) -> str:
        return self.base_url + path

    @staticmethod
    def file_of(path: str) -> str:
        """Output file for a page path."""
        return path + "index.html" if (path == "" or path.endswith("/")) else path

    @staticmethod
    def relative(from_path: str, to_path: str) -> str:
        """URL of `to_path` as seen from the page at `from_path`."""
        here = from_path.split("/")[:-1]  # the page's folders
        there = to_path.split("/")
        i = 0
        while i < len(here) and i < len(there) - 1 and here[i] == there[i]:
            i += 1
        rel = "../" * (len(here) - i) + "/".join(there[i:])
        return rel or "./"
