"""``sideline token``: mint a development token as the host backend would."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.commands.serve import settings_from_args
from service.domain.rooms import Role
from service.errors import SidelineError
from service.identity import MAX_NAME_LENGTH, identity_of, mint_token
from service.settings import ensure_dev_secrets


def register(sub: Any) -> None:
    p = sub.add_parser("token", help="mint a signed HS256 user token (development)")
    p.add_argument("--user", required=True, help="user id (sub)")
    p.add_argument("--context", required=True, help="context id, also the room it opens (ctx)")
    p.add_argument(
        "--role", default="user", choices=[r.value for r in Role], help="room role (default: user)"
    )
    p.add_argument("--name", help="display name")
    p.add_argument(
        "--ttl", type=int, help="lifetime in seconds (default: auth.dev_token_ttl_seconds)"
    )
    p.add_argument("--data-dir", help="data_dir holding the dev secret")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    limit = settings.auth.max_token_lifetime_seconds
    problem = None
    if args.ttl is not None and args.ttl < 1:
        problem = f"--ttl must be at least 1 second, got {args.ttl}"
    elif args.ttl is not None and 0 < limit < args.ttl:
        problem = (f"--ttl {args.ttl} is longer than auth.max_token_lifetime_seconds ({limit}): "
                   "the service would refuse the token")  # fmt: skip
    elif args.name is not None and not 0 < len(args.name) <= MAX_NAME_LENGTH:
        problem = f"--name must be 1 to {MAX_NAME_LENGTH} characters, got {len(args.name)}"
    else:
        problem = _claims_problem(args)
    if problem:
        print(f"sideline token: {problem}", file=sys.stderr)
        return 2
    # Secrets generated here are shown as `serve` shows them, on stderr: stdout is the token.
    for line in ensure_dev_secrets(settings):
        print(line, file=sys.stderr)
    if not settings.auth.hs256_secret:
        print(
            "sideline token: it signs HS256 tokens and auth.hs256_secret is not set; this "
            "deployment verifies only auth.public_keys, whose private keys the host backend "
            "holds: mint tokens there",
            file=sys.stderr,
        )
        return 2
    print(
        mint_token(
            settings.auth.hs256_secret,
            user_id=args.user,
            context_id=args.context,
            role=args.role,
            name=args.name,
            ttl_seconds=args.ttl if args.ttl is not None else settings.auth.dev_token_ttl_seconds,
            audience=settings.auth.audience,
            issuer=settings.auth.issuer,
        )
    )
    return 0


_OPTION_OF = {"$.sub": "--user", "$.ctx": "--context", "$.role": "--role", "$.name": "--name"}


def _claims_problem(args: argparse.Namespace) -> str | None:
    """Why the service would refuse the claims of the token asked for, by the service's own
    check, or None."""
    claims = {"sub": args.user, "ctx": args.context, "role": args.role, "name": args.name, "exp": 0}
    try:
        identity_of(claims)
    except SidelineError as exc:
        return f"{_OPTION_OF.get(exc.at or '', exc.at)}: {exc.message}"
    return None
