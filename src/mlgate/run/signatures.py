"""Signatures on shared run records, so `mlgate ci` reuses only runs its own default-branch
job made (issue 11).

Anyone who can push to the repository can write ``refs/notes/mlgate``, and a run record's
digest hashes only inputs, so a forged record for any commit is easy to write. The
default-branch job signs each record it shares with an Ed25519 key (the ``MLGATE_NOTES_KEY``
secret, an OpenSSH private key, readable only by jobs on the default branch); a pull
request's job reuses a record only if the signature verifies against ``notes.public_key``
as the *default branch's* config pins it. Ed25519 through ``cryptography`` (a well-kept
library, the one pyca/OpenSSH keys are read with) rather than anything hand-rolled; keys
in OpenSSH formats, so ``ssh-keygen -t ed25519`` makes them.

The signed message binds the record to its commit and model, so a signed record cannot be
moved to another commit or filed under another model.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from mlgate.core.config import ed25519_key_bytes

ENV_KEY = "MLGATE_NOTES_KEY"
_DOMAIN = b"mlgate-note-signature@1\0"


class SigningKeyError(ValueError):
    """The signing key cannot be used; the message never quotes the key."""


def message(commit: str, model: str, record: Mapping[str, Any]) -> bytes:
    """What is signed: a domain tag, the commit, the model and the record's canonical JSON."""
    canonical = json.dumps(
        record, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False
    )
    return b"%s%s\0%s\0%s" % (_DOMAIN, commit.encode(), model.encode(), canonical.encode())


def sign(private_key: str, commit: str, model: str, record: Mapping[str, Any]) -> str:
    """The base64 Ed25519 signature of ``record`` with an OpenSSH private key (no passphrase)."""
    key = _private_key(private_key)
    return base64.b64encode(key.sign(message(commit, model, record))).decode()


def public_line(private_key: str) -> str:
    """The ``ssh-ed25519 AAAA…`` line of a private key: what ``notes.public_key`` must say."""
    from cryptography.hazmat.primitives import serialization

    public = _private_key(private_key).public_key()
    raw = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return str(raw.decode())


def verify(
    public_key: str, signature: str | None, commit: str, model: str, record: Mapping[str, Any]
) -> bool:
    """Whether ``signature`` is ``public_key``'s over this record, commit and model."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = ed25519_key_bytes(public_key)
    if raw is None or not signature:
        return False
    try:
        signed = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(signed, message(commit, model, record))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def _private_key(text: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_ssh_private_key(text.strip().encode() + b"\n", password=None)
    except (ValueError, TypeError, UnicodeError) as e:
        # e may quote bytes of the key: say only what kind of problem it is.
        raise SigningKeyError(
            f"{ENV_KEY} is not an unencrypted OpenSSH private key ({type(e).__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{ENV_KEY} is not an Ed25519 key (make one: ssh-keygen -t ed25519)")
    return key
