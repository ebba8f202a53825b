"""The chart library is vendored only as pinned: the tarball's sha512 must equal the integrity."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from costline.dev import vendor
from costline.dev.vendor import NpmPackage, VendorError, integrity_of


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry on disk (file:// URLs) and a vendor folder of the test's own."""
    monkeypatch.setattr(vendor, "VENDOR", tmp_path / "vendor")
    (tmp_path / "registry" / "chart" / "-").mkdir(parents=True)
    return tmp_path / "registry"


def package(data: bytes) -> NpmPackage:
    files = {"package/dist/chart.min.js": "chart.min.js", "package/NOTICE": "chart.NOTICE"}
    return NpmPackage("chart", "1.0.0", integrity_of(data), files)


def test_the_pinned_tarball_is_extracted_with_its_notice(registry: Path) -> None:
    data = tarball({"package/dist/chart.min.js": b"window.chart = 1;", "package/NOTICE": b"Chart"})
    (registry / "chart" / "-" / "chart-1.0.0.tgz").write_bytes(data)
    pinned = package(data)
    vendor.extract(pinned, vendor.fetch(pinned, registry.as_uri()))
    assert (vendor.VENDOR / "chart.min.js").read_bytes() == b"window.chart = 1;"
    assert (vendor.VENDOR / "chart.NOTICE").read_text() == "Chart"
    assert vendor.is_vendored(pinned)


def test_a_tarball_that_is_not_the_pinned_one_is_refused(registry: Path) -> None:
    (registry / "chart" / "-" / "chart-1.0.0.tgz").write_bytes(tarball({"package/NOTICE": b"tampered"}))
    with pytest.raises(VendorError, match=r"is not the pinned chart 1\.0\.0: its sha512 differs"):
        vendor.fetch(package(b"the real one"), registry.as_uri())
    assert not vendor.VENDOR.exists()


def test_echarts_is_pinned_by_version_and_sha512() -> None:
    assert vendor.ECHARTS.tarball == "echarts/-/echarts-6.1.0.tgz"
    assert vendor.ECHARTS.integrity.startswith("sha512-")
