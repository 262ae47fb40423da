"""Verifiable output: a manifest of every published file, signed with Ed25519.

Every build writes `manifest.json` at the root of the output: the SHA-256 of
every other file.  With a signing key (`gazette build --sign-key KEY.pem`),
it also writes `manifest.sig`, the Ed25519 signature of manifest.json's exact
bytes, base64.  `gazette verify DIR --key PUBLIC.pem` checks a deployed copy
against both and names every missing, changed or extra file.

The private key never enters the site folder or the output: `keys new`
refuses to write it there, and a build refuses a key that lies there.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GazetteError
from .safefs import files_under

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SKIP = {MANIFEST, SIGNATURE}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> dict[str, str]:
    return dict(sorted((rel, path) for rel, path in files_under(folder) if rel not in SKIP))


def manifest_bytes(folder: Path, version: str, known: dict[str, str] | None = None,
                   present: dict[str, str] | None = None) -> bytes:
    """The manifest of everything in `folder`: sorted, so the same files give the
    same bytes.  `known`: SHA-256 of files the build wrote itself, as it wrote
    them (the rest, such as the search index, are read here)."""
    known = known or {}
    present = _files(folder) if present is None else present
    files = {rel: known.get(rel) or sha256_file(path) for rel, path in present.items()}
    data = {"generator": f"gazette {version}", "algorithm": "sha256", "files": files}
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def load_private_key(path: Path, forbidden: list[Path]):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    real = Path(os.path.realpath(path))
    for folder in forbidden:
        base = Path(os.path.realpath(folder))
        if real == base or real.is_relative_to(base):
            raise GazetteError(f"the signing key {path} lies inside {folder}; keep private keys outside the site and the output")
    try:
        key = load_pem_private_key(real.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise GazetteError(f"cannot read the signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise GazetteError(f"the signing key {path} is not an Ed25519 private key (make one with `gazette keys new`)")
    return key


def sign(manifest: bytes, private_key) -> bytes:
    return base64.b64encode(private_key.sign(manifest)) + b"\n"


def new_key_pair(folder: Path, name: str = "gazette-signing") -> tuple[Path, Path]:
    """Write NAME.pem (private, mode 600) and NAME.pub.pem into `folder`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = Path(folder)
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if (parent / "gazette.yaml").is_file() or (parent / ".gazette-output").is_file():
            raise GazetteError(f"{folder} is inside a gazette site or output ({parent}); keep the private key elsewhere")
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    for path in (private, public):
        if path.exists():
            raise GazetteError(f"{path} exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@dataclass
class Verification:
    signature: str = "not checked"  # 'valid' | 'missing' | 'invalid' | 'not checked'
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return (self.problem is None and not (self.missing or self.changed or self.extra)
                and self.signature in ("valid", "not checked"))


def verify(folder: Path, public_key_path: Path | None) -> Verification:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    result = Verification()
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        result.problem = f"{folder} has no {MANIFEST}: it was not built by gazette, or the manifest is missing"
        return result
    raw = manifest_path.read_bytes()
    if public_key_path is not None:
        try:
            key = load_pem_public_key(Path(public_key_path).read_bytes())
        except (OSError, ValueError) as exc:
            result.problem = f"cannot read the public key {public_key_path}: {exc}"
            return result
        if not isinstance(key, Ed25519PublicKey):
            result.problem = f"{public_key_path} is not an Ed25519 public key"
            return result
        sig_path = folder / SIGNATURE
        if not sig_path.is_file():
            result.signature = "missing"
        else:
            try:
                key.verify(base64.b64decode(sig_path.read_bytes().strip(), validate=True), raw)
                result.signature = "valid"
            except (InvalidSignature, ValueError):
                result.signature = "invalid"
    try:
        listed = json.loads(raw.decode("utf-8"))["files"]
        if not isinstance(listed, dict):
            raise TypeError
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        result.problem = f"{manifest_path} is not a gazette manifest"
        return result
    present = _files(folder)
    for rel, digest in sorted(listed.items()):
        path = present.get(rel)
        if path is None:
            result.missing.append(rel)
        elif sha256_file(path) != digest:
            result.changed.append(rel)
    result.extra = sorted(set(present) - set(listed))
    return result
