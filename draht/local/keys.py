"""The local identities `draht dev` authorizes against, kept in the data folder.

- `credentials`: an AWS shared-credentials file with one profile, `draht-local`,
  holding an access key pair made on first use. The iam routes accept requests
  signed with it, so any SDK can call them:
  `AWS_SHARED_CREDENTIALS_FILE=.draht/credentials AWS_PROFILE=draht-local`.
- `jwt-signing-key.pem`: the local JWT issuer's RSA key, made on first use. The jwt
  routes accept tokens it signs (`draht token`) for the stack's issuer and audience.

Both files are readable by their owner only. They are made atomically, so
`draht dev` and `draht call` started together agree on the same keys.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import os
import secrets
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

PROFILE = "draht-local"
CREDENTIALS_FILE = "credentials"
JWT_KEY_FILE = "jwt-signing-key.pem"
_KEY_ALPHABET = string.ascii_uppercase + "234567"


class KeyFileError(ValueError):
    """A key file of the data folder cannot be read; the message names it and the fix."""


@dataclass(frozen=True)
class LocalCredentials:
    """The IAM user the iam routes know: its access key pair, and who it is."""

    access_key: str
    secret_key: str
    path: Path

    @property
    def user_id(self) -> str:
        """A stable unique id shaped like an IAM user's (`AIDA…`), derived from the key."""
        digest = hashlib.sha256(self.access_key.encode()).digest()
        return "AIDA" + base64.b32encode(digest).decode()[:17]

    def user_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:user/{PROFILE}"


def local_credentials(data_dir: Path) -> LocalCredentials:
    """The data folder's access key pair, made the first time it is asked for."""
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        access_key = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        secret_key = base64.b64encode(secrets.token_bytes(30)).decode()
        _create(
            path,
            f"# draht dev's local credentials: the iam routes accept requests signed with them.\n"
            f"[{PROFILE}]\naws_access_key_id = {access_key}\n"
            f"aws_secret_access_key = {secret_key}\n".encode(),
        )
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text())
        section = parser[PROFILE]
        return LocalCredentials(
            section["aws_access_key_id"], section["aws_secret_access_key"], path
        )
    except (OSError, configparser.Error, KeyError) as error:
        raise KeyFileError(
            f"{path} has no readable [{PROFILE}] access key pair ({error}):"
            " delete it and a new pair is made"
        ) from None


@dataclass(frozen=True)
class LocalIssuer:
    """The local JWT issuer: its RSA key, and the key id tokens name it by."""

    private_key: RSAPrivateKey
    path: Path

    @property
    def public_key(self) -> RSAPublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint, as identity providers commonly name their keys."""
        numbers = self.public_key.public_numbers()
        jwk = {"e": _b64url_int(numbers.e), "kty": "RSA", "n": _b64url_int(numbers.n)}
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def local_issuer(data_dir: Path) -> LocalIssuer:
    """The data folder's JWT signing key, made the first time it is asked for."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = data_dir / JWT_KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _create(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise KeyFileError(
            f"{path} is not a readable PEM private key ({error}): delete it and a new one is made"
        ) from None
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA key: delete it and a new one is made")
    return LocalIssuer(loaded, path)


def _create(path: Path, content: bytes) -> None:
    """Write `path` whole, owner-only, unless another process made it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        # A hard link fails when the name exists: the first writer wins, whole.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _b64url_int(value: int) -> str:
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
