"""`rtcc evidence verify PATH`: check a court package (ZIP) or a custody log offline.

Exit status 0 when everything verifies, 1 when something does not (each problem is
printed, naming the file or the custody entry), 2 when the path cannot be read.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

from rtcc.evidence import custody, package


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser("evidence", help="evidence tools (offline)")
    commands = parser.add_subparsers(dest="evidence_command", required=True)
    verify = commands.add_parser(
        "verify", help="verify a package ZIP or a custody log; names any changed or missing part"
    )
    verify.add_argument("path", type=Path, help="package .zip or custody log .jsonl")
    verify.add_argument(
        "--public-key", default="", help="base64 Ed25519 key expected (else the file's own)"
    )
    verify.set_defaults(run=run_verify, is_async=False)


def verify_path(path: Path, public_key: str = "") -> package.Report:
    key = custody.load_public_key(public_key) if public_key else None
    if zipfile.is_zipfile(path):
        return package.verify_package(path, key)
    report = package.Report()
    with path.open("rb") as handle:
        data = package.read_bounded(handle, package.MAX_METADATA)
    expected = custody.fingerprint(key) if key else ""
    package.verify_log_bytes(data, report, expected)
    return report


def run_verify(args: argparse.Namespace) -> int:
    if not args.path.is_file():
        print(f"error: {args.path} is not a file")
        return 2
    try:
        report = verify_path(args.path, args.public_key)
    except package.UnsafeArchive as exc:
        print(f"FAILED: {exc}")
        return 1
    kind = "package" if zipfile.is_zipfile(args.path) else "custody log"
    print(f"{kind}: {args.path}")
    print(f"signing key fingerprint: {report.fingerprint or 'unknown'}")
    print(f"files checked: {report.checked_files}; custody entries: {report.entries}")
    if report.valid:
        print("VERIFIED: every hash, signature and custody proof checks out")
        return 0
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print(f"FAILED: {len(report.problems)} problem(s)")
    return 1
