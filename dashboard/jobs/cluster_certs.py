"""Certificates for a workshop's Dask cluster (TLS with mutual authentication), and checking them.

`make_certificates(directory)` writes a fresh certificate authority and one certificate + key for
the scheduler, the workers and the app (`python -m dashboard cluster certs DIR`). Every party
presents a certificate signed by that authority and accepts only peers that do. Dask does not
check host names, so the authority is the whole boundary: whoever holds `ca-key.pem` can make
certificates the cluster accepts, which is why it stays with the instructor, never on a worker.

`tls_problems()` checks the files Dask's own settings name for the app (`CA_VAR`, `CERT_VAR`,
`KEY_VAR`) before any connection: set, readable, PEM, not expired, key matching certificate.
Uses the `cryptography` package; no Streamlit, no Dask.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_DAYS = 30  # one workshop: a new authority for the next one
MAX_DAYS = 825
ORGANIZATION = "ConvNet Explorer workshop"
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
ROLES = ("scheduler", "worker", "app")  # one certificate each: scheduler.pem + scheduler-key.pem, …
SERVES = {"scheduler": True, "worker": True, "app": False}  # the app only connects, never listens
CLOCK_SKEW = dt.timedelta(minutes=5)  # valid from a little before now: machines' clocks differ
MAX_PEM_BYTES = 100_000

CA_VAR = "DASK_DISTRIBUTED__COMM__TLS__CA_FILE"
CERT_VAR = "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT"
KEY_VAR = "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY"
CONFIG_KEYS = {CA_VAR: "distributed.comm.tls.ca-file", CERT_VAR: "distributed.comm.tls.client.cert",
               KEY_VAR: "distributed.comm.tls.client.key"}


class CertificateError(ValueError):
    """Certificates that cannot be made or used; the message names the file (and variable) and why."""


@dataclass(frozen=True)
class CertificateSet:
    """What `make_certificates` wrote: the directory, the file names, and when they expire."""

    directory: Path
    files: tuple[str, ...]
    expires: dt.datetime  # UTC

    def path(self, name: str) -> Path:
        """The full path of one written file."""
        return self.directory / name


@dataclass(frozen=True)
class TlsFiles:
    """The app's TLS files, checked: the authority, its own certificate and key, and the earliest expiry."""

    ca_file: str
    cert_file: str
    key_file: str
    expires: dt.datetime  # UTC: the earlier of the authority's and the app certificate's end


def cert_name(role: str) -> str:
    """`scheduler.pem`, `worker.pem`, `app.pem`."""
    return f"{role}.pem"


def key_name(role: str) -> str:
    """`scheduler-key.pem`, …: the private key of that role's certificate."""
    return f"{role}-key.pem"


def when(moment: dt.datetime) -> str:
    """A UTC moment as people read it: 2026-01-31 14:05 UTC."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --- making them ---------------------------------------------------------------------------


def _names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """Subject alternative names: IP literals as addresses, anything else as DNS names."""
    out: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def _name(subject: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject)])


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, now: dt.datetime,
             days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=days)))


def _write(path: Path, data: bytes, private: bool) -> None:
    """Create `path` (never overwrite); keys readable by their owner only (0600)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600 if private else 0o644)  # whatever the umask


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _prepare(directory: Path) -> None:
    """Create `directory` (0700), or accept an empty one; refuse to write into a non-empty one."""
    if directory.exists():
        if not directory.is_dir():
            raise CertificateError(f"{directory} exists and is not a directory")
        if any(directory.iterdir()):
            raise CertificateError(f"{directory} is not empty: certificates are never overwritten; "
                                   "give a new directory (one per workshop)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def make_certificates(directory: str | os.PathLike, hosts: Iterable[str] = (), days: int = DEFAULT_DAYS,
                      now: dt.datetime | None = None) -> CertificateSet:
    """Write a new authority and the scheduler's, workers' and app's certificates and keys into `directory`.

    `hosts` are added as subject alternative names (Dask does not check them); `now` is for tests.
    """
    if not 1 <= days <= MAX_DAYS:
        raise CertificateError(f"--days must be between 1 and {MAX_DAYS}, not {days}")
    directory = Path(directory)
    _prepare(directory)
    now = now or dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("workshop certificate authority")
    ca_cert = (_builder("workshop certificate authority", ca_name, ca_key, now, days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    written = [CA_FILE, CA_KEY_FILE]
    _write(directory / CA_FILE, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    _write(directory / CA_KEY_FILE, _key_pem(ca_key), private=True)
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if SERVES[role] else [])
        cert = (_builder(f"workshop {role}", ca_name, key, now, days)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(x509.SubjectAlternativeName(_names(hosts if SERVES[role] else ())), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(directory / cert_name(role), cert.public_bytes(serialization.Encoding.PEM), private=False)
        _write(directory / key_name(role), _key_pem(key), private=True)
        written += [cert_name(role), key_name(role)]
    return CertificateSet(directory, tuple(written), ca_cert.not_valid_after_utc)


# --- checking the app's files --------------------------------------------------------------


def tls_setting(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The file Dask will use for `variable`: the environment, else Dask's configuration (None if neither)."""
    environ = os.environ if environ is None else environ
    value = environ.get(variable)
    if value:
        return value
    try:
        import dask

        found = dask.config.get(CONFIG_KEYS[variable], None)
    except ImportError:
        return None
    return str(found) if found else None


def _read_pem(variable: str, path: str) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > MAX_PEM_BYTES:
            raise CertificateError(f"{variable} names {path}, which is {size:,} bytes: not a PEM certificate or key")
        with open(path, "rb") as handle:
            return handle.read(MAX_PEM_BYTES)
    except OSError as err:
        raise CertificateError(f"{variable} names {path}, which cannot be read ({err.strerror or err})") from None


def _certificate(variable: str, path: str, now: dt.datetime) -> x509.Certificate:
    raw = _read_pem(variable, path)
    try:
        cert = x509.load_pem_x509_certificate(raw)
    except ValueError:
        raise CertificateError(f"{variable} names {path}, which is not a PEM certificate") from None
    if cert.not_valid_after_utc <= now:
        raise CertificateError(f"the certificate {path} ({variable}) expired on {when(cert.not_valid_after_utc)}; "
                               "make new ones with `python -m dashboard cluster certs NEW_DIR`")
    if cert.not_valid_before_utc > now:
        raise CertificateError(f"the certificate {path} ({variable}) is valid only from "
                               f"{when(cert.not_valid_before_utc)}: check this machine's clock")
    return cert


def check_tls_files(environ: Mapping[str, str] | None = None, now: dt.datetime | None = None) -> TlsFiles:
    """The app's TLS files, checked before connecting; raise `CertificateError` naming the variable and file."""
    now = now or dt.datetime.now(dt.timezone.utc)
    paths = {variable: tls_setting(variable, environ) for variable in (CA_VAR, CERT_VAR, KEY_VAR)}
    missing = [variable for variable, path in paths.items() if not path]
    if missing:
        raise CertificateError(f"a tls:// scheduler needs the app's certificates: set {', '.join(missing)} "
                               "(the files from `python -m dashboard cluster certs DIR`: ca.pem, app.pem, app-key.pem)")
    ca = _certificate(CA_VAR, paths[CA_VAR], now)
    cert = _certificate(CERT_VAR, paths[CERT_VAR], now)
    raw_key = _read_pem(KEY_VAR, paths[KEY_VAR])
    try:
        key = serialization.load_pem_private_key(raw_key, password=None)
    except (ValueError, TypeError):
        raise CertificateError(f"{KEY_VAR} names {paths[KEY_VAR]}, which is not an unencrypted PEM private key") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise CertificateError(f"the key {paths[KEY_VAR]} ({KEY_VAR}) is not the key of the certificate "
                               f"{paths[CERT_VAR]} ({CERT_VAR})")
    try:
        cert.verify_directly_issued_by(ca)  # the authority's signature, not just its name
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError(f"the certificate {paths[CERT_VAR]} ({CERT_VAR}) was not issued by the authority "
                               f"{paths[CA_VAR]} ({CA_VAR}): both must come from the same certs directory") from None
    expires = min(ca.not_valid_after_utc, cert.not_valid_after_utc)
    return TlsFiles(paths[CA_VAR], paths[CERT_VAR], paths[KEY_VAR], expires)
