"""Credentials an endpoint run is given, kept out of everything it stores or prints: userinfo in
URLs (`http://user:password@host`), `Authorization` and API-key values, and the values of
key-like options in a server command (`vllm serve --api-key KEY`). The run sends them; run.json,
reports and error lines carry `***` in their place."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from harness.errors import BadInput

API_KEY_ENV = "GPUCOST_API_KEY"
"""The environment variable an endpoint's API key is read from (sent as `Authorization: Bearer`);
never an option, so it is in no command line, run.json or shell history."""

MASK = "***"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")
_KEY_FLAG = re.compile(r"(?i)^--?[a-z0-9_-]*(key|token|secret|password|passwd|auth)[a-z0-9_-]*$")
_KEY_VALUE = re.compile(
    r"(?i)^(--?[a-z0-9_-]*(key|token|secret|password|passwd|auth)[a-z0-9_-]*=).+$"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """`text` with URL userinfo and Authorization values masked."""
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", _USERINFO.sub(rf"\1{MASK}@", text))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line with URL userinfo masked, and the value after (or in) a key-like option."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        if _KEY_FLAG.match(arg):
            hide_next = True
            out.append(arg)
            continue
        out.append(redact(_KEY_VALUE.sub(rf"\1{MASK}", arg)))
    return out


def split_userinfo(netloc: str) -> tuple[str, str | None]:
    """(`netloc` without userinfo, the userinfo or None)."""
    userinfo, at, host = netloc.rpartition("@")
    return (host, userinfo) if at else (netloc, None)


def auth_headers(userinfo: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Authorization header the run sends: Basic from a URL's userinfo, or Bearer from
    GPUCOST_API_KEY; BadInput when both are given (which one was meant is unknown)."""
    env = os.environ if env is None else env
    key = env.get(API_KEY_ENV) or None
    if userinfo is not None and key is not None:
        raise BadInput(
            f"--endpoint has a user and password and {API_KEY_ENV} is set: give one of them"
        )
    if key is not None:
        if any(c in key for c in "\r\n\0"):
            raise BadInput(f"{API_KEY_ENV}: the key has a line break or NUL in it")
        return {"Authorization": f"Bearer {key.strip()}"}
    if userinfo is None:
        return {}
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
