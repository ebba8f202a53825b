"""A throwaway certificate authority and one server certificate, for tests of secure transports.

Made with the JDK's ``keytool`` (which the local Kafka broker needs anyway) and
``openssl`` (for the PEM key the ClickHouse TLS front loads): no Python
dependency only for this. The server certificate names ``localhost`` and
``127.0.0.1``, so clients verify host names as they would in production.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SUBJECT_ALT_NAMES = "SAN=dns:localhost,ip:127.0.0.1"
VALID_DAYS = "30"


class CertificateError(RuntimeError):
    """Raised when keytool or openssl cannot make the certificates."""


@dataclass(frozen=True)
class ThrowawayPki:
    """The CA (PEM, for clients); the server's keystore (PKCS12, for Kafka) and PEM pair (TLS front)."""

    ca_file: Path
    keystore: Path
    keystore_password: str = field(repr=False)
    cert_file: Path
    key_file: Path


def make_throwaway_pki(directory: Path) -> ThrowawayPki:
    """A fresh CA and server certificate in ``directory`` (kept if already made there)."""
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "keystore.password"
    pki = ThrowawayPki(
        ca_file=directory / "ca.pem",
        keystore=directory / "server.p12",
        keystore_password=password_file.read_text() if password_file.exists() else secrets.token_hex(16),
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
    )
    if all(path.exists() for path in (pki.ca_file, pki.keystore, pki.cert_file, pki.key_file)):
        return pki
    if shutil.which("keytool") is None or shutil.which("openssl") is None:
        raise CertificateError("making test certificates needs 'keytool' (a JDK) and 'openssl' on PATH")
    password_file.write_text(pki.keystore_password)
    ca_store, csr = directory / "ca.p12", directory / "server.csr"
    for path in (ca_store, csr, pki.ca_file, pki.keystore, pki.cert_file, pki.key_file):
        path.unlink(missing_ok=True)
    pw = pki.keystore_password
    store = ["-storetype", "PKCS12", "-storepass", pw, "-keypass", pw]
    key = ["-keyalg", "RSA", "-keysize", "2048", "-validity", VALID_DAYS]
    _run(["keytool", "-genkeypair", "-alias", "ca", "-dname", "CN=costline-test-ca", *key, "-ext", "bc:c",
          "-ext", "ku:c=keyCertSign,cRLSign", "-keystore", str(ca_store), *store])  # fmt: skip
    _run(["keytool", "-exportcert", "-rfc", "-alias", "ca", "-keystore", str(ca_store),
          "-storepass", pw, "-file", str(pki.ca_file)])  # fmt: skip
    _run(["keytool", "-genkeypair", "-alias", "server", "-dname", "CN=localhost", *key,
          "-ext", SUBJECT_ALT_NAMES, "-keystore", str(pki.keystore), *store])  # fmt: skip
    _run(["keytool", "-certreq", "-alias", "server", "-keystore", str(pki.keystore),
          "-storepass", pw, "-file", str(csr)])  # fmt: skip
    _run(["keytool", "-gencert", "-alias", "ca", "-keystore", str(ca_store), "-storepass", pw,
          "-infile", str(csr), "-outfile", str(pki.cert_file), "-rfc", "-validity", VALID_DAYS,
          "-ext", SUBJECT_ALT_NAMES, "-ext", "ku:c=digitalSignature,keyEncipherment",
          "-ext", "eku=serverAuth"])  # fmt: skip
    for alias, cert in (("ca", pki.ca_file), ("server", pki.cert_file)):
        _run(["keytool", "-importcert", "-noprompt", "-alias", alias, "-file", str(cert),
              "-keystore", str(pki.keystore), "-storepass", pw])  # fmt: skip
    pem = _run(["openssl", "pkcs12", "-in", str(pki.keystore), "-nocerts", "-nodes", "-passin", f"pass:{pw}"])
    key_pem = _run(["openssl", "pkey"], stdin=pem)
    pki.key_file.touch(mode=0o600)
    pki.key_file.write_text(key_pem)
    return pki


def _run(cmd: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # Only the tool's name and its message: the command line carries the keystore password.
        raise CertificateError(f"{cmd[0]} {cmd[1]} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout
