"""The provider's TLS certificate for go-plugin's handshake, cached under `$HOME`.

The cache is the file `tf` itself uses (`$HOME/.cache/tf-python-provider/ssl_cert.json`, same keys), so
providers started by `tf.runner.run_provider` share it. Two things differ from `tf`'s own cache handling:
- the file is replaced atomically, so concurrent providers never read a half-written certificate;
- the expiry is stored beside it (`not_after`, epoch seconds), so loading needs no `cryptography`
  import (about 20 ms of every provider start).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from pathlib import Path
from typing import NamedTuple

VALIDITY_SECONDS = 30 * 24 * 3600
# Renew well before expiry so that a provider never starts with a certificate about to lapse.
RENEW_BEFORE_SECONDS = 24 * 3600


# A NamedTuple rather than a dataclass: this module is on every provider's start-up path.
class Certificate(NamedTuple):
    key_pem: bytes
    cert_pem: bytes
    cert_der: bytes
    not_after: float


def cache_path(home: Path) -> Path:
    return home / ".cache" / "tf-python-provider" / "ssl_cert.json"


def _load(path: Path, now: float) -> Certificate | None:
    try:
        cached = json.loads(path.read_text())
        certificate = Certificate(
            key_pem=cached["key_pem"].encode(),
            cert_pem=cached["cert_pem"].encode(),
            cert_der=base64.b64decode(cached["cert_chain"]),
            not_after=float(cached["not_after"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return certificate if certificate.not_after - RENEW_BEFORE_SECONDS > now else None


def _generate(now: float) -> Certificate:
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    not_after = now + VALIDITY_SECONDS
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.fromtimestamp(now - 60, UTC))
        .not_valid_after(datetime.fromtimestamp(not_after, UTC))
        # go-plugin trusts the certificate it is handed as its own root, for the name "localhost".
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        cert_der=certificate.public_bytes(serialization.Encoding.DER),
        not_after=not_after,
    )


def _store(path: Path, certificate: Certificate) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "key_pem": certificate.key_pem.decode(),
        "cert_pem": certificate.cert_pem.decode(),
        "cert_chain": base64.b64encode(certificate.cert_der).decode(),
        "not_after": certificate.not_after,
    }
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".ssl_cert.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as tmp:
            json.dump(document, tmp)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def ensure_certificate(home: Path, now: float | None = None) -> Certificate:
    """Load the cached certificate, or generate and cache a new one when missing, corrupt or expiring."""
    now = time.time() if now is None else now
    path = cache_path(home)
    certificate = _load(path, now)
    if certificate is None:
        certificate = _generate(now)
        # A read-only HOME only costs the next start a new certificate.
        with contextlib.suppress(OSError):
            _store(path, certificate)
    return certificate
