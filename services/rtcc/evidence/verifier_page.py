"""The offline verifier page put in every package (verify.html). Pure.

The page carries the signed manifest inside it, so it works from file:// with nothing
fetched: the recipient opens it, picks the unzipped folder (or the files), and the
browser computes each file's SHA-256 with WebCrypto and compares it with the manifest,
checks the custody entries against their RFC 9162 inclusion proofs and the signed
root, checks the manifest's Ed25519 signature where the browser supports Ed25519, and
plays the clips.
"""

from __future__ import annotations

import json
from pathlib import Path

TEMPLATE = Path(__file__).with_name("verify.html")


def render_page(manifest_text: str, signature_b64: str) -> str:
    def literal(text: str) -> str:
        return json.dumps(text).replace("</", "<\\/")

    page = TEMPLATE.read_text()
    return page.replace("__MANIFEST__", literal(manifest_text)).replace(
        "__SIGNATURE__", literal(signature_b64)
    )
