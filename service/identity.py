"""User identity: verification of tokens signed by the host backend, and dev-token minting.

A token is a JWT with ``sub`` (the user id, not blank), ``ctx`` (the context the user is
viewing, which is also the room they may enter; not blank, at most 256 characters), ``name``
(at most 64 characters; the user id when absent), ``role`` or per-room ``roles`` ({room_id:
role}), and a required ``exp`` (at most ``auth.max_token_lifetime_seconds`` ahead). HS256
tokens are checked against the shared secret; RS256 and EdDSA tokens against the configured
public keys. The algorithm is chosen by the key type, never by the token header alone, so
``alg: none`` and HS/RS confusion (an HS256 token "signed" with a public key) are refused.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path
from typing import Any

import jwt
import msgspec
from jwt.algorithms import get_default_algorithms

from service.domain.rooms import Role
from service.errors import ErrorCode, SidelineError
from service.settings import AuthSettings, ConfigError

_ASYMMETRIC = ("RS256", "EdDSA")


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, as vouched for by the host backend's token."""

    user_id: str
    name: str
    context_id: str
    role: Role
    room_roles: dict[str, Role] = msgspec.field(default_factory=dict)
    expires_at: float | None = None
    """The token's ``exp`` (Unix seconds); a WebSocket connection ends then, plus the leeway."""

    def may_enter(self, room_id: str) -> bool:
        """A token opens the room of its context and every room it names a role for."""
        return room_id == self.context_id or room_id in self.room_roles

    def token_role(self, room_id: str) -> Role:
        return self.room_roles.get(room_id, self.role)


class TokenVerifier:
    """Verifies user tokens; built once from settings."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._secret = settings.hs256_secret
        self._public_keys = [
            _load_key(k, f"$.auth.public_keys[{i}]") for i, k in enumerate(settings.public_keys)
        ]

    def verify(self, token: str | None) -> Identity:
        """Return the identity in a valid token.

        Raises:
            SidelineError: TOKEN_MISSING, TOKEN_EXPIRED, TOKEN_ALGORITHM or TOKEN_INVALID.
        """
        if not token:
            raise SidelineError(ErrorCode.TOKEN_MISSING, "no token was presented")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise SidelineError(ErrorCode.TOKEN_INVALID, f"token is malformed: {exc}") from exc
        alg = header.get("alg")
        if alg == "HS256" and self._secret:
            keys: list[Any] = [self._secret]
        elif alg in _ASYMMETRIC and any(a == alg for a, _ in self._public_keys):
            keys = [key for a, key in self._public_keys if a == alg]
        else:
            raise SidelineError(
                ErrorCode.TOKEN_ALGORITHM, f"token algorithm {alg!r} is not accepted here"
            )
        claims = self._decode(token, alg, keys)
        for claim in _TIMES:  # NumericDate (RFC 7519): PyJWT also takes "1795771835" and 1e9
            if claim in claims and (
                not isinstance(claims[claim], int | float) or isinstance(claims[claim], bool)
            ):
                raise _not_numeric_date(claim, claims[claim])
        self._check_lifetime(claims["exp"])
        return identity_of(claims)

    def _check_lifetime(self, exp: float) -> None:
        """Refuse an ``exp`` further ahead than ``auth.max_token_lifetime_seconds`` (0: any)."""
        s = self._settings
        limit = s.max_token_lifetime_seconds
        ahead = float(exp) - time.time()
        if limit > 0 and ahead > limit + s.leeway_seconds:
            raise SidelineError(
                ErrorCode.TOKEN_INVALID,
                f"token claim `exp` is {_days(ahead)} days away; tokens may live at most "
                f"{limit / 86_400:.1f} days (auth.max_token_lifetime_seconds)",
                at="$.exp",
            )  # fmt: skip

    def _decode(self, token: str, alg: str, keys: list[Any]) -> dict[str, Any]:
        s = self._settings
        options = {"require": ["exp", "sub"], "verify_aud": s.audience is not None}
        last: Exception | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    audience=s.audience,
                    issuer=s.issuer,
                    leeway=s.leeway_seconds,
                    options=options,  # type: ignore[arg-type]
                )
                return claims
            except jwt.ExpiredSignatureError as exc:  # the signature verified before this
                exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
                if isinstance(exp, bool):  # PyJWT reads `true` as 1970's first second
                    raise _not_numeric_date("exp", exp) from exc
                raise SidelineError(ErrorCode.TOKEN_EXPIRED, "token has expired") from exc
            except jwt.InvalidSignatureError as exc:
                last = exc
            except jwt.PyJWTError as exc:
                raise SidelineError(
                    ErrorCode.TOKEN_INVALID, f"token is invalid: {exc}", at=_claim_at(exc)
                ) from exc
        raise SidelineError(ErrorCode.TOKEN_INVALID, "token signature does not verify") from last


_TIMES = ("exp", "nbf", "iat")


def _days(seconds: float) -> str:
    """``30.0``; ``1.16e+295`` for an ``exp`` no one means (not three hundred digits)."""
    days = seconds / 86_400
    return f"{days:.1f}" if days < 1e6 else f"{days:.3g}"


def _not_numeric_date(claim: str, value: Any) -> SidelineError:
    return SidelineError(
        ErrorCode.TOKEN_INVALID,
        f"token claim `{claim}` must be a number of seconds since 1970 (a NumericDate), "
        f"not {_shown(value)}",
        at=f"$.{claim}",
    )
_NAMED_CLAIM = re.compile(r"\((exp|nbf|iat)\)")


def _claim_at(exc: jwt.PyJWTError) -> str | None:
    """The claim a refused decode is about (``$.exp`` for a missing one, ``$.aud``, ``$.iss``,
    ``$.sub``, ``$.nbf`` or ``$.iat`` not yet valid or not a number), as the claim checks below
    name theirs; None when it is the token as a whole."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"$.{exc.claim}"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "$.aud"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "$.iss"
    if isinstance(exc, jwt.exceptions.InvalidSubjectError):
        return "$.sub"
    if found := _NAMED_CLAIM.search(str(exc)):  # PyJWT names the time claim in its message
        return f"$.{found.group(1)}"
    return None


def _load_key(spec: str, at: str) -> tuple[str, Any]:
    """A public key and the one algorithm it may verify (never chosen by the token).

    Raises:
        ConfigError: the file cannot be read or holds no RSA or Ed25519 public key; names
            ``at``, the key's place in the settings.
    """
    if spec.lstrip().startswith("-----BEGIN"):
        pem = spec
    else:
        try:
            pem = Path(spec).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                f"public key file {spec!r} cannot be read ({reason}) - at `{at}`"
            ) from exc
    for name in _ASYMMETRIC:
        algorithm = get_default_algorithms()[name]
        try:
            return name, algorithm.prepare_key(pem)
        except Exception:  # wrong key type for this algorithm: try the next one
            continue
    raise ConfigError(
        f"public key {spec[:40]!r} is neither an RSA nor an Ed25519 PEM key - at `{at}`"
    )


MAX_NAME_LENGTH = 64
"""Longest display name (``name`` claim), in characters: it is copied into every message the
user sends and shown beside it, so a token cannot make each message carry kilobytes."""
MAX_CONTEXT_LENGTH = 256
"""Longest context id (``ctx`` claim): a room id (a kind, a colon and a key of at most 128
characters) or the host's own id; every event of the user carries it."""
_ROLE_NAMES = tuple(r.value for r in Role)

_STEERING = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidi controls: in a name they would reverse or reorder the text shown after it."""


def display_name(name: str) -> str:
    """``name`` as shown beside every message: control characters and line breaks become
    spaces, bidi controls go, runs of space are one and the ends trimmed. Joiners, variation
    selectors and tags stay: emoji sequences and some scripts need them."""
    if name.isascii() and name.isprintable() and "  " not in name and name == name.strip():
        return name
    spaced = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in name if ch not in _STEERING
    )  # fmt: skip
    return " ".join(spaced.split())
_ROLES = ", ".join(_ROLE_NAMES)


def _role(value: Any) -> Role | None:
    """``value`` as a role, or None (also for a list or a number, which ``Role()`` would not name)."""
    return Role(value) if isinstance(value, str) and value in _ROLE_NAMES else None


def _shown(value: Any) -> str:
    return repr(value)[:80]


def identity_of(claims: dict[str, Any]) -> Identity:
    """The identity verified ``claims`` (signature, algorithm and lifetime already checked)
    stand for; raises ``token_invalid`` at the claim that is wrong. ``sideline token`` checks
    what it mints with it too."""

    def bad(claim: str, why: str) -> SidelineError:
        return SidelineError(ErrorCode.TOKEN_INVALID, f"token claim {why}", at=f"$.{claim}")

    sub, ctx = claims.get("sub"), claims.get("ctx")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise bad("sub", "`sub` must be a non-empty string of at most 128 characters")
    if not sub.strip():  # events, dashboards and sinks key on it: blanks are no user
        raise bad("sub", f"`sub` (the user id) is blank: {_shown(sub)}")
    if ctx is None or ctx == "":
        raise bad("ctx", "`ctx` (the context id) is required")
    if not isinstance(ctx, str):
        raise bad("ctx", f"`ctx` (the context id) must be a string, not {_shown(ctx)}")
    if not ctx.strip():  # every event of the user carries it, and the product-export joins
        raise bad("ctx", f"`ctx` (the context id) is blank: {_shown(ctx)}")
    if len(ctx) > MAX_CONTEXT_LENGTH:
        raise bad("ctx", f"`ctx` must be at most {MAX_CONTEXT_LENGTH} characters (it has {len(ctx)})")
    role = _role(claims.get("role", "user"))
    if role is None:
        raise bad("role", f"`role` is not a role: {_shown(claims['role'])} ({_ROLES})")
    raw_roles = claims.get("roles") or {}
    if not isinstance(raw_roles, dict):
        raise bad("roles", "`roles` must map room ids to roles")
    room_roles: dict[str, Role] = {}
    for room, value in raw_roles.items():
        if (room_role := _role(value)) is None:
            why = f"`roles` gives room {str(room)[:80]!r} an unknown role: {_shown(value)} ({_ROLES})"
            raise bad(f"roles[{str(room)[:80]!r}]", why)
        room_roles[str(room)] = room_role
    name = claims.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_LENGTH):
        it = f"it has {len(name)}" if isinstance(name, str) else f"it is {_shown(name)}"
        raise bad("name", f"`name` must be a string of at most {MAX_NAME_LENGTH} characters ({it})")
    return Identity(
        user_id=sub,
        name=display_name(name or "") or sub,
        context_id=ctx,
        role=role,
        room_roles=room_roles,
        expires_at=float(claims["exp"]),  # required and checked numeric by the decode
    )


def mint_token(
    secret: str,
    *,
    user_id: str,
    context_id: str,
    role: str = "user",
    name: str | None = None,
    ttl_seconds: int = 3600,
    roles: dict[str, str] | None = None,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """Sign an HS256 token as a host backend would (used by ``sideline token`` and tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "ctx": context_id,
        "name": name or user_id,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if roles:
        claims["roles"] = roles
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")
