"""The court package: built, verified offline, and every tampering named."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.unit.evidence.test_custody import KEY, _log

from rtcc.evidence import package


def _build(tmp_path: Path, entries: int = 6) -> Path:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(bytes(range(256)) * 400)
    lines, point = _log(entries)
    out = tmp_path / "package.zip"
    package.build(
        out,
        case={"id": "cas_1", "title": "Burglary at 5th"},
        items=[{"id": "itm_a", "kind": "ITEM_KIND_CLIP"}],
        files=[
            package.PackageFile("items/itm_a/clip.mp4", "itm_a", "video/mp4", local=clip),
            package.PackageFile("items/itm_b/note.txt", "itm_b", "text/plain", data=b"seen"),
        ],
        entries=lines,
        checkpoint=point,
        key=KEY,
        purpose="discovery",
        created=dt.datetime.now(dt.UTC).isoformat(),
    )
    return out


def _rewrite(src: Path, dst: Path, name: str, change: bytes | None) -> None:
    """Copy the ZIP, replacing (or dropping, when `change` is None) one member."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            if info.filename == name:
                if change is not None:
                    new.writestr(info.filename, change)
                continue
            new.writestr(info.filename, old.read(info.filename))


def test_a_fresh_package_verifies_and_holds_the_verifier_page(tmp_path: Path) -> None:
    out = _build(tmp_path)
    report = package.verify_package(out)
    assert report.valid, report.problems
    assert report.checked_files == 3 and report.entries == 6
    with zipfile.ZipFile(out) as archive:
        page = archive.read("verify.html").decode()
    assert "__MANIFEST__" not in page and "crypto.subtle.digest" in page


def test_a_flipped_byte_in_a_clip_is_named(tmp_path: Path) -> None:
    out = _build(tmp_path)
    with zipfile.ZipFile(out) as archive:
        data = bytearray(archive.read("items/itm_a/clip.mp4"))
    data[1000] ^= 0x01
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, "items/itm_a/clip.mp4", bytes(data))
    report = package.verify_package(bad)
    assert any(p.startswith("items/itm_a/clip.mp4 was changed") for p in report.problems)


def test_a_changed_or_removed_custody_entry_is_named(tmp_path: Path) -> None:
    out = _build(tmp_path)
    with zipfile.ZipFile(out) as archive:
        log = archive.read("custody/log.jsonl").split(b"\n")
    changed = list(log)
    changed[3] = changed[3].replace(b"step 3", b"step X")
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, "custody/log.jsonl", b"\n".join(changed))
    problems = package.verify_package(bad).problems
    assert "custody: entry 3 was changed: entry 4's previousHash does not match it" in problems
    assert any("custody entry 3 is not included" in p for p in problems)
    removed = log[:2] + log[3:]
    _rewrite(out, bad, "custody/log.jsonl", b"\n".join(removed))
    problems = package.verify_package(bad).problems
    assert "custody: entry 2 is missing (removed before entry 3)" in problems


def test_a_manifest_signed_by_another_key_fails(tmp_path: Path) -> None:
    out = _build(tmp_path)
    other = Ed25519PrivateKey.generate().public_key()
    report = package.verify_package(out, other)
    assert any("does not verify" in p for p in report.problems)


def test_archives_with_bombs_or_escaping_names_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"\0" * (50 * 1024 * 1024))
    assert any("zip bomb" in p for p in package.verify_package(bomb).problems)
    escape = tmp_path / "escape.zip"
    with zipfile.ZipFile(escape, "w") as archive:
        archive.writestr("../../etc/passwd", b"x")
    assert any("unsafe name" in p for p in package.verify_package(escape).problems)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert not package.verify_package(junk).valid
