"""Mismatches of the matrix, collected for `RTCC_AUTHZ_FINDINGS` (see conftest.py) and
rendered as a table by `python -m tests.security.findings FILE.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Each: {"backend", "rpc", "caller", "expected", "got"}.
FINDINGS: list[dict[str, str]] = []


def markdown(findings: list[dict[str, str]]) -> str:
    lines = ["| RPC | caller | expected | got | backends |", "|---|---|---|---|---|"]
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for f in findings:
        merged.setdefault((f["rpc"], f["caller"], f["expected"], f["got"]), []).append(f["backend"])
    for (rpc, caller, expected, got), backends in sorted(merged.items()):
        got = got.replace("|", "/")
        lines.append(f"| {rpc} | {caller} | {expected} | {got} | {', '.join(sorted(backends))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
