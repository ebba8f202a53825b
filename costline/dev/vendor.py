"""The dashboard's charting library, vendored into the package at build time, never from a CDN.

``python -m costline.dev.vendor`` (run by ``make setup``, ``make test`` and the Docker build)
fetches Apache ECharts' npm tarball at the pinned version, refuses it unless its sha512 equals
the pinned integrity, and extracts the minified bundle with its LICENSE and NOTICE into
``costline/api/static/vendor/``, which the API serves from its own origin. The folder is
git-ignored: the repository holds the pin, not 1 MB of minified code, and a build is as
reproducible as the pin. Running it again with the file in place does nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "api" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"
TIMEOUT_S = 120


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity: sha512 of the tarball, base64
    files: dict[str, str]  # path in the tarball -> name in VENDOR

    @property
    def tarball(self) -> str:
        return f"{self.name}/-/{self.name}-{self.version}.tgz"

    @property
    def stamp(self) -> Path:
        return VENDOR / f"{self.name}.integrity"


ECHARTS = NpmPackage(
    name="echarts",
    version="6.1.0",
    integrity="sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
    files={
        "package/dist/echarts.min.js": "echarts.min.js",
        "package/LICENSE": "echarts.LICENSE",  # Apache-2.0
        "package/NOTICE": "echarts.NOTICE",  # kept beside the code, as the licence asks
    },
)


class VendorError(RuntimeError):
    """The tarball could not be fetched, or is not the one pinned."""


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def is_vendored(package: NpmPackage) -> bool:
    present = all((VENDOR / name).is_file() for name in package.files.values())
    return present and package.stamp.is_file() and package.stamp.read_text().strip() == package.integrity


def fetch(package: NpmPackage, registry: str) -> bytes:
    url = f"{registry.rstrip('/')}/{package.tarball}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            data: bytes = response.read()
    except OSError as exc:
        raise VendorError(f"could not fetch {url}: {exc}") from None
    if integrity_of(data) != package.integrity:
        raise VendorError(f"{url} is not the pinned {package.name} {package.version}: its sha512 differs")
    return data


def extract(package: NpmPackage, data: bytes) -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in package.files.items():
            source = archive.extractfile(member)
            if source is None:
                raise VendorError(f"{package.tarball} has no file {member}")
            (VENDOR / name).write_bytes(source.read())
    package.stamp.write_text(package.integrity + "\n")  # last: a half-done extract is redone


def vendor(package: NpmPackage = ECHARTS) -> bool:
    """Vendor ``package``; False if it already was."""
    if is_vendored(package):
        return False
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or REGISTRY  # a mirror, behind a firewall
    extract(package, fetch(package, registry))
    return True


def main() -> int:
    try:
        done = vendor()
    except VendorError as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    state = "vendored" if done else "already vendored"
    print(f"vendor: {ECHARTS.name} {ECHARTS.version} {state} in {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
