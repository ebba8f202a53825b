"""Headless Chromium for the dashboard's browser tests, from Debian's packages.

No browser is downloaded at run time: ``make test`` runs ``python -m costline.dev.browser``,
which installs ``chromium`` with apt-get when it is missing and does nothing when it is present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PACKAGES = ("chromium",)
# Without the background-networking flags Chromium dials out at start, which a closed network refuses.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserMissing(RuntimeError):
    """Chromium is not installed and could not be installed here."""


def ensure_chromium() -> Path:
    """Debian's Chromium, installed first if missing (idempotent: present means no apt-get)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise BrowserMissing(
            f"{CHROMIUM} is missing; install it with `sudo apt-get install {' '.join(PACKAGES)}`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # A fresh machine may have no package lists yet ("Unable to locate package"): fetch them once.
        print("chromium: apt-get install failed; apt-get update, then once more", file=sys.stderr)
        subprocess.run([apt, "update"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not CHROMIUM.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BrowserMissing(f"apt-get could not install {' '.join(PACKAGES)}: {last}")
    return CHROMIUM


def main() -> int:
    try:
        print(f"chromium: {ensure_chromium()}")
    except BrowserMissing as exc:
        print(f"chromium: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
