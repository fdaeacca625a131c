"""The court package: build it, and verify it (or a custody log) offline.

A package is a ZIP::

    manifest.json        what is inside: case, items, SHA-256 and size of every file,
                         the custody checkpoint, each entry's inclusion proof, the key
    manifest.sig         detached Ed25519 signature of manifest.json's bytes (base64)
    custody/log.jsonl    the custody log: a header line (checkpoint and public key),
                         then one canonical entry per line (see custody.py)
    items/<id>/<name>    the items' content (clips, files, snapshots, notes)
    verify.html          an offline page that checks the files' hashes in the browser
                         (WebCrypto) and plays the clips; no software of ours needed

Reading is bounded: entry count, each entry's size, the total and the compression
ratio are checked against the bytes actually read (headers can lie), and names that
are absolute or contain ``..`` are refused, so a crafted archive cannot exhaust memory
or disk or escape a folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rtcc.evidence import custody, merkle
from rtcc.evidence.verifier_page import render_page

FORMAT = "openrtcc-evidence-package/1"
LOG_FORMAT = "openrtcc-custody-log/1"
MAX_ENTRIES = 10_000
MAX_FILE = 64 * 1024**3
MAX_TOTAL = 256 * 1024**3
MAX_RATIO = 200  # uncompressed : compressed, above which an entry is a bomb
MAX_METADATA = 64 * 1024**2  # manifest, signature, log
CHUNK = 1 << 20
UNHASHED = ("manifest.json", "manifest.sig", "verify.html")


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file to put in the package: from a local path, or bytes."""

    path: str
    item_id: str
    content_type: str
    local: Path | None = None
    data: bytes | None = None


def log_text(
    checkpoint: custody.Checkpoint, public_key: Ed25519PublicKey, lines: list[bytes]
) -> bytes:
    """A custody log file: header line, then the canonical entries."""
    header = {
        "format": LOG_FORMAT,
        "checkpoint": checkpoint.to_json(),
        "publicKey": custody.public_key_b64(public_key),
    }
    return b"\n".join([json.dumps(header, sort_keys=True).encode(), *lines]) + b"\n"


def _hash_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def build(
    out: Path,
    *,
    case: dict[str, Any],
    items: list[dict[str, Any]],
    files: list[PackageFile],
    entries: list[bytes],
    checkpoint: custody.Checkpoint,
    key: Ed25519PrivateKey,
    purpose: str,
    created: str,
) -> dict[str, Any]:
    """Write the package ZIP to `out`; returns its manifest. Blocking."""
    public = key.public_key()
    tree = merkle.MerkleTree([merkle.leaf_hash(e) for e in entries])
    size = checkpoint.size
    proofs = [
        {
            "sequence": n + 1,
            "leafHash": tree.leaf(n).hex(),
            "path": [p.hex() for p in tree.inclusion_proof(n, size)],
        }
        for n in range(size)
    ]
    log = log_text(checkpoint, public, entries)
    listed = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for f in files:
            if f.local is not None:
                length, digest = _hash_file(f.local)
                archive.write(f.local, f.path)
            else:
                data = f.data or b""
                length, digest = len(data), hashlib.sha256(data).hexdigest()
                archive.writestr(f.path, data)
            listed.append(
                {"path": f.path, "sha256": digest, "size": length, "itemId": f.item_id,
                 "contentType": f.content_type}
            )  # fmt: skip
        archive.writestr("custody/log.jsonl", log, compress_type=zipfile.ZIP_DEFLATED)
        listed.append(
            {"path": "custody/log.jsonl", "sha256": hashlib.sha256(log).hexdigest(),
             "size": len(log), "itemId": "", "contentType": "application/x-ndjson"}
        )  # fmt: skip
        manifest = {
            "format": FORMAT,
            "created": created,
            "purpose": purpose,
            "case": case,
            "items": items,
            "files": listed,
            "signingKey": {
                "algorithm": "Ed25519",
                "publicKey": custody.public_key_b64(public),
                "fingerprint": custody.fingerprint(public),
            },
            "custody": {
                "log": "custody/log.jsonl",
                "checkpoint": checkpoint.to_json(),
                "treeSize": size,
                "rootHash": checkpoint.root.hex(),
                "inclusionProofs": proofs,
            },
        }
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        signature = base64.b64encode(key.sign(body))
        archive.writestr("manifest.json", body, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("manifest.sig", signature + b"\n")
        page = render_page(body.decode(), signature.decode())
        archive.writestr("verify.html", page, compress_type=zipfile.ZIP_DEFLATED)
    return manifest


# --- reading, bounded ---------------------------------------------------------------


class UnsafeArchive(ValueError):
    """The archive is malformed or could expand without bound; the message says how."""


def safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if not name or name.startswith("/") or "\\" in name or ".." in path.parts or ":" in name:
        raise UnsafeArchive(f"the archive holds an unsafe name {name!r} (absolute or with ..)")
    return name


def _check_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise UnsafeArchive(f"the archive holds {len(infos)} entries, more than {MAX_ENTRIES}")
    total = 0
    for info in infos:
        safe_name(info.filename)
        total += info.file_size
        if info.file_size > MAX_FILE or total > MAX_TOTAL:
            raise UnsafeArchive(f"{info.filename} would expand beyond the size limits")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise UnsafeArchive(
                f"{info.filename} expands {info.file_size // info.compress_size}x: refused "
                "as a zip bomb"
            )
    return infos


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """The entry's bytes, stopping with UnsafeArchive past `limit` or its stated size."""
    read = 0
    with archive.open(info) as handle:
        while chunk := handle.read(CHUNK):
            read += len(chunk)
            if read > min(limit, info.file_size):
                raise UnsafeArchive(f"{info.filename} holds more bytes than its header says")
            yield chunk


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    return b"".join(_chunks(archive, info, MAX_METADATA))


@dataclass
class Report:
    """The outcome of verifying a package or a log: every problem named."""

    checked_files: int = 0
    entries: int = 0
    fingerprint: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def verify_log_bytes(data: bytes, report: Report, expect_fingerprint: str = "") -> None:
    """Check a custody log file (header + canonical lines) into `report`."""
    lines = data.split(b"\n")
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        report.problems.append("the custody log is empty")
        return
    try:
        header = json.loads(lines[0])
        checkpoint = custody.Checkpoint.from_json(header["checkpoint"])
        public = custody.load_public_key(str(header["publicKey"]))
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"the custody log's header is unreadable ({exc})")
        return
    report.fingerprint = custody.fingerprint(public)
    if expect_fingerprint and report.fingerprint != expect_fingerprint:
        report.problems.append(
            f"the custody log is signed by key {report.fingerprint}, not the package's "
            f"{expect_fingerprint}"
        )
    found = custody.verify_log(lines[1:], checkpoint, public)
    report.entries = found.entries
    report.problems.extend(f"custody: {p}" for p in found.problems)


def verify_package(path: Path, public_key: Ed25519PublicKey | None = None) -> Report:
    """Verify a package ZIP offline: signature, every file's hash, the custody log and
    each entry's inclusion proof. `public_key`: the key expected (else the manifest's)."""
    report = Report()
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {i.filename: i for i in _check_members(archive)}
            _verify_archive(archive, infos, report, public_key)
    except UnsafeArchive as exc:
        report.problems.append(str(exc))
    except zipfile.BadZipFile as exc:
        report.problems.append(f"{path.name} is not a readable ZIP ({exc})")
    return report


def _verify_archive(
    archive: zipfile.ZipFile,
    infos: dict[str, zipfile.ZipInfo],
    report: Report,
    public_key: Ed25519PublicKey | None,
) -> None:
    for needed in ("manifest.json", "manifest.sig"):
        if needed not in infos:
            report.problems.append(f"{needed} is missing from the package")
            return
    body = _read_small(archive, infos["manifest.json"])
    signature = base64.b64decode(_read_small(archive, infos["manifest.sig"]).strip() or b"")
    try:
        manifest = json.loads(body)
        key = public_key or custody.load_public_key(manifest["signingKey"]["publicKey"])
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"manifest.json is unreadable ({exc})")
        return
    report.fingerprint = custody.fingerprint(key)
    try:
        key.verify(signature, body)
    except InvalidSignature:
        report.problems.append(
            "manifest.json's signature (manifest.sig) does not verify: the manifest was "
            f"changed or signed by another key than {report.fingerprint}"
        )
    if manifest.get("signingKey", {}).get("fingerprint") != report.fingerprint:
        report.problems.append("the manifest names another signing key than the one used")
    _verify_files(archive, infos, manifest, report)
    _verify_custody(archive, infos, manifest, report)


def _verify_files(
    archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], manifest: Any, report: Report
) -> None:
    listed = {f["path"]: f for f in manifest.get("files", [])}
    for name in sorted(set(infos) - set(listed) - set(UNHASHED)):
        if not name.endswith("/"):
            report.problems.append(f"{name} is in the package but not in the manifest")
    for name, entry in sorted(listed.items()):
        info = infos.get(name)
        if info is None:
            report.problems.append(f"{name} is missing from the package")
            continue
        digest = hashlib.sha256()
        try:
            for chunk in _chunks(archive, info, MAX_FILE):
                digest.update(chunk)
        except zipfile.BadZipFile:
            report.problems.append(
                f"{name} was changed: its bytes no longer match the archive's checksum"
            )
            continue
        report.checked_files += 1
        if digest.hexdigest() != entry["sha256"]:
            report.problems.append(
                f"{name} was changed: its SHA-256 is {digest.hexdigest()}, the manifest says "
                f"{entry['sha256']}"
            )


def _verify_custody(
    archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], manifest: Any, report: Report
) -> None:
    section = manifest.get("custody", {})
    name = section.get("log", "")
    if name not in infos:
        report.problems.append("the custody log is missing from the package")
        return
    try:
        data = _read_small(archive, infos[name])
    except zipfile.BadZipFile:
        report.problems.append(f"{name} was changed: its bytes no longer match the checksum")
        return
    verify_log_bytes(data, report, report.fingerprint)
    lines = [line for line in data.split(b"\n")[1:] if line]
    root = bytes.fromhex(section.get("rootHash", ""))
    size = int(section.get("treeSize", 0))
    for proof in section.get("inclusionProofs", []):
        sequence = int(proof["sequence"])
        leaf = merkle.leaf_hash(lines[sequence - 1]) if sequence <= len(lines) else b""
        path = [bytes.fromhex(p) for p in proof["path"]]
        if not merkle.verify_inclusion(sequence - 1, size, leaf, path, root):
            report.problems.append(
                f"custody entry {sequence} is not included in the signed tree "
                "(its inclusion proof fails)"
            )


def read_bounded(handle: IO[bytes], limit: int) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeArchive(f"more than {limit} bytes")
    return data
