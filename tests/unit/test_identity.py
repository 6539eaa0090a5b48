import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from service.errors import ErrorCode, SidelineError
from service.identity import TokenVerifier, mint_token
from service.settings import AuthSettings, ConfigError, load_settings

SECRET = "s" * 32


def _pem_pair(private):
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pub.decode()


@pytest.fixture(scope="module")
def rsa_pair():
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ed_pair():
    return _pem_pair(ed25519.Ed25519PrivateKey.generate())


def claims(**kw):
    # an hour: parametrized tokens are built at collection, minutes before a long suite runs them
    base = {"sub": "u1", "ctx": "match:1", "name": "Ann", "role": "user", "exp": int(time.time()) + 3600}
    base.update(kw)
    return base


def code_of(verifier, token):
    with pytest.raises(SidelineError) as info:
        verifier.verify(token)
    return info.value.code


def test_hs256_roundtrip():
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    who = v.verify(mint_token(SECRET, user_id="u1", context_id="match:1", role="speaker"))
    assert (who.user_id, who.context_id, who.role.value) == ("u1", "match:1", "speaker")
    assert who.may_enter("match:1") and not who.may_enter("match:2")


def test_per_room_roles():
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    token = jwt.encode(claims(roles={"team:ars": "moderator"}), SECRET, algorithm="HS256")
    who = v.verify(token)
    assert who.may_enter("team:ars") and who.token_role("team:ars").value == "moderator"
    assert who.token_role("match:1").value == "user"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, ErrorCode.TOKEN_MISSING),
        ("", ErrorCode.TOKEN_MISSING),
        ("not.a.jwt", ErrorCode.TOKEN_INVALID),
        (jwt.encode(claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"), ErrorCode.TOKEN_EXPIRED),
        (jwt.encode(claims(), "another-secret-of-32-bytes-xxxxx", algorithm="HS256"), ErrorCode.TOKEN_INVALID),
        (jwt.encode({k: v for k, v in claims().items() if k != "exp"}, SECRET, algorithm="HS256"), ErrorCode.TOKEN_INVALID),
        (jwt.encode(claims(role="king"), SECRET, algorithm="HS256"), ErrorCode.TOKEN_INVALID),
        (jwt.encode(claims(ctx=None), SECRET, algorithm="HS256"), ErrorCode.TOKEN_INVALID),
        (jwt.encode(claims(), None, algorithm="none"), ErrorCode.TOKEN_ALGORITHM),
        (jwt.encode(claims(), SECRET, algorithm="HS512"), ErrorCode.TOKEN_ALGORITHM),
    ],
)
def test_refused_tokens(token, code):
    assert code_of(TokenVerifier(AuthSettings(hs256_secret=SECRET)), token) is code


def test_rs256_and_eddsa(rsa_pair, ed_pair):
    v = TokenVerifier(AuthSettings(public_keys=[rsa_pair[1], ed_pair[1]]))
    assert v.verify(jwt.encode(claims(), rsa_pair[0], algorithm="RS256")).user_id == "u1"
    assert v.verify(jwt.encode(claims(), ed_pair[0], algorithm="EdDSA")).user_id == "u1"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert code_of(v, jwt.encode(claims(), other, algorithm="RS256")) is ErrorCode.TOKEN_INVALID


def test_hs_rs_confusion_is_refused(rsa_pair):
    """An attacker signs HS256 with the RSA public key as the HMAC secret."""
    v = TokenVerifier(AuthSettings(public_keys=[rsa_pair[1]]))
    import base64
    import hashlib
    import hmac
    import json

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    sig = b64(hmac.new(rsa_pair[1].encode(), head + b"." + body, hashlib.sha256).digest())
    forged = (head + b"." + body + b"." + sig).decode()
    assert code_of(v, forged) is ErrorCode.TOKEN_ALGORITHM
    # and with a shared secret also configured, the public key is still never an HMAC key
    v2 = TokenVerifier(AuthSettings(hs256_secret=SECRET, public_keys=[rsa_pair[1]]))
    assert code_of(v2, forged) is ErrorCode.TOKEN_INVALID


def test_audience_and_issuer():
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET, audience="sideline", issuer="host"))
    ok = mint_token(SECRET, user_id="u", context_id="match:1", audience="sideline", issuer="host")
    assert v.verify(ok).user_id == "u"
    assert code_of(v, mint_token(SECRET, user_id="u", context_id="match:1", audience="other", issuer="host")) is ErrorCode.TOKEN_INVALID
    assert code_of(v, mint_token(SECRET, user_id="u", context_id="match:1", audience="sideline")) is ErrorCode.TOKEN_INVALID


@pytest.mark.parametrize(
    ("extra", "at", "message"),
    [
        ({"role": "king"}, "$.role", "token claim `role` is not a role: 'king' (viewer, user, speaker, moderator)"),
        ({"roles": {"team:ars": "king"}}, "$.roles['team:ars']",
         "token claim `roles` gives room 'team:ars' an unknown role: 'king' (viewer, user, speaker, moderator)"),
        ({"roles": {"team:ars": ["moderator"]}}, "$.roles['team:ars']",
         "token claim `roles` gives room 'team:ars' an unknown role: ['moderator'] (viewer, user, speaker, moderator)"),
    ],
)  # fmt: skip
def test_a_bad_role_claim_is_named_where_it_is(extra, at, message):
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    with pytest.raises(SidelineError) as info:
        v.verify(jwt.encode(claims(**extra), SECRET, algorithm="HS256"))
    assert (info.value.code, info.value.at, info.value.message) == (ErrorCode.TOKEN_INVALID, at, message)


def refusal(v: TokenVerifier, **extra: object) -> SidelineError:
    with pytest.raises(SidelineError) as info:
        v.verify(jwt.encode(claims(**extra), SECRET, algorithm="HS256"))
    return info.value


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("A" * 65, "token claim `name` must be a string of at most 64 characters (it has 65)"),
        ("🔥" * 100, "token claim `name` must be a string of at most 64 characters (it has 100)"),
        (123, "token claim `name` must be a string of at most 64 characters (it is 123)"),
        (["Ann"], "token claim `name` must be a string of at most 64 characters (it is ['Ann'])"),
    ],
    ids=["65-letters", "100-emoji", "a-number", "a-list"],
)
def test_a_name_that_would_be_copied_into_every_message_is_bounded(name, message):
    err = refusal(TokenVerifier(AuthSettings(hs256_secret=SECRET)), name=name)
    assert (err.code, err.at, err.message) == (ErrorCode.TOKEN_INVALID, "$.name", message)


@pytest.mark.parametrize("sub", [" ", "   ", "\t\n", "\u3000\u00a0"], ids=["space", "spaces", "tab-newline", "unicode-spaces"])
def test_a_user_id_of_only_white_space_is_refused(sub):
    """The user id keys every event, dashboard and sink row: one of blanks is no user (the
    importer refuses such a ``user_id`` too)."""
    err = refusal(TokenVerifier(AuthSettings(hs256_secret=SECRET)), sub=sub)
    assert (err.code, err.at, err.message) == (
        ErrorCode.TOKEN_INVALID, "$.sub", f"token claim `sub` (the user id) is blank: {sub!r}",
    )  # fmt: skip


@pytest.mark.parametrize(("ctx", "message"), [
    ("  ", "token claim `ctx` (the context id) is blank: '  '"),
    ("match:" + "1" * 251, "token claim `ctx` must be at most 256 characters (it has 257)"),
])  # fmt: skip
def test_a_context_of_only_white_space_or_over_the_limit_is_refused(ctx, message):
    """The context keys every event of the user (``context_id``) and the product-export joins."""
    err = refusal(TokenVerifier(AuthSettings(hs256_secret=SECRET)), ctx=ctx)
    assert (err.code, err.at, err.message) == (ErrorCode.TOKEN_INVALID, "$.ctx", message)


def test_a_user_id_with_white_space_inside_or_around_is_kept_as_it_is():
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    for sub in ("Ann Lee", " u1 "):  # the host's ids: not rewritten, or they would name another user
        assert v.verify(jwt.encode(claims(sub=sub), SECRET, algorithm="HS256")).user_id == sub


@pytest.mark.parametrize(("name", "shown"), [("Ann", "Ann"), ("é" * 64, "é" * 64), ("", "u1"), (None, "u1")])
def test_names_up_to_the_limit_pass_and_a_missing_one_is_the_user_id(name, shown):
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    assert v.verify(jwt.encode(claims(name=name), SECRET, algorithm="HS256")).name == shown



def test_a_token_that_expires_too_far_ahead_is_refused():
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    err = refusal(v, exp=int(time.time()) + 30 * 86_400)
    assert (err.code, err.at) == (ErrorCode.TOKEN_INVALID, "$.exp")
    assert err.message.startswith("token claim `exp` is 30.0 days away; tokens may live at most 7.0 days")
    assert err.message.endswith("(auth.max_token_lifetime_seconds)")
    week = jwt.encode(claims(exp=int(time.time()) + 7 * 86_400), SECRET, algorithm="HS256")
    assert v.verify(week).user_id == "u1"
    short = TokenVerifier(AuthSettings(hs256_secret=SECRET, max_token_lifetime_seconds=600))
    assert code_of(short, jwt.encode(claims(), SECRET, algorithm="HS256")) is ErrorCode.TOKEN_INVALID
    absurd = refusal(v, exp=1e300)
    assert absurd.message.startswith("token claim `exp` is 1.16e+295 days away"), absurd.message
    unbounded = TokenVerifier(AuthSettings(hs256_secret=SECRET, max_token_lifetime_seconds=0))
    assert unbounded.verify(jwt.encode(claims(exp=int(time.time()) + 400 * 86_400), SECRET, algorithm="HS256"))


def test_dev_tokens_must_fit_the_lifetime_limit(tmp_path):
    env = {"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_AUTH__DEV_TOKEN_TTL_SECONDS": str(8 * 86_400)}
    with pytest.raises(ConfigError, match=r"or its tokens would be refused - at `\$\.auth\.dev_token_ttl_seconds`"):
        load_settings(environ=env)
    assert load_settings(environ={**env, "SIDELINE_AUTH__MAX_TOKEN_LIFETIME_SECONDS": "0"})


@pytest.mark.parametrize(("name", "shown"), [
    ("a\u0000b\n\u202ec", "a b c"),  # a control, a line break, a right-to-left override
    ("\u2067Ann\u2069  \t Lee ", "Ann Lee"),
    ("\u202e\n ", "u1"),  # nothing shown is left: the user id
    ("👨\u200d👩\u200d👧 fan", "👨\u200d👩\u200d👧 fan"),  # joiners stay: one emoji
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),
])  # fmt: skip
def test_a_name_is_shown_without_controls_that_would_steer_the_text_around_it(name, shown):
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET))
    assert v.verify(jwt.encode(claims(name=name), SECRET, algorithm="HS256")).name == shown


@pytest.mark.parametrize(
    ("drop", "extra", "at"),
    [
        ("exp", {}, "$.exp"),
        ("sub", {}, "$.sub"),
        (None, {"aud": "other"}, "$.aud"),
        ("aud", {}, "$.aud"),
        (None, {"iss": "other"}, "$.iss"),
        ("iss", {}, "$.iss"),
        (None, {"sub": 123}, "$.sub"),
        (None, {"ctx": 5}, "$.ctx"),
        (None, {"exp": "abc"}, "$.exp"),
        (None, {"exp": str(int(time.time()) + 86_400)}, "$.exp"),  # PyJWT alone takes it
        (None, {"nbf": int(time.time()) + 86_400}, "$.nbf"),  # a day: built at collection
        (None, {"iat": int(time.time()) + 86_400}, "$.iat"),
        (None, {"iat": "yesterday"}, "$.iat"),
        (None, {"exp": True}, "$.exp"),  # PyJWT reads it as 1: not "expired"
        (None, {"nbf": False}, "$.nbf"),
    ],
)
def test_a_missing_or_wrong_standard_claim_is_named_where_it_is(drop, extra, at):
    """Every refused claim names itself, as `ctx` or a too distant `exp` do (docs/http-api.md):
    the host backend's developer is told which claim to fix."""
    v = TokenVerifier(AuthSettings(hs256_secret=SECRET, audience="sideline", issuer="host"))
    body = claims(**{"aud": "sideline", "iss": "host", **extra})
    if drop:
        del body[drop]
    with pytest.raises(SidelineError) as info:
        v.verify(jwt.encode(body, SECRET, algorithm="HS256"))
    assert (info.value.code, info.value.at) == (ErrorCode.TOKEN_INVALID, at), info.value.message
