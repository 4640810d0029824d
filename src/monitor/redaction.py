"""Notification URLs without their secrets: what lists, pages, messages and logs may show.

An apprise URL is a credential: depending on the plugin the token sits in the host (``tgram``,
``pbul``, ``line``), the userinfo (``pover``, ``pagerduty``), a path segment (``flock``) or a
query value. Guessing per plugin where the secret is leaked every plugin nobody listed (#11,
finding 3), so redaction is by default: a URL is shown as its scheme alone, ``scheme://…``.
Only for the schemes in ``HOST_SHOWN``, whose host is a server the operator chose (a webhook
receiver, a mail server), is that host (and port) shown too, as a hint of where alerts go.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

# Plugins whose host part is always the address of a server, never a token or an account
# name. Left out on purpose: ntfy (``ntfy://topic`` uses the host as a private topic), matrix
# (``matrix://token`` in t2bot mode) and every plugin whose endpoint is a vendor's API.
HOST_SHOWN = frozenset(
    {
        *("json", "jsons", "xml", "xmls", "form", "forms"),
        *("mailto", "mailtos", "gotify", "gotifys", "apprise", "apprises"),
        *("mmost", "mmosts", "rocket", "rockets", "ncloud", "nclouds", "nctalk", "nctalks"),
    }
)
# Shorter pieces would mask ordinary words in messages; a URL's secrets are longer.
MIN_SECRET = 6
# Except a token host or path (an ntfy topic): masked down to 4 characters. Under that, masking
# would blank single letters and short words in every log line, and a 1-3 character topic is
# found by trying them all anyway, so hiding it protects nothing.
MIN_TOKEN = 4

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?"
)
_AUTHORITY_END = re.compile(r"[/?#]")
_PIECES = re.compile(r"[/,;]+")
_USERINFO_PIECES = re.compile(r"[:@]+")
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s\"'<>]*")


def _split(url: str) -> tuple[str, str, str] | None:
    """(scheme, authority, the rest after the authority) or None when ``url`` has no scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    end = _AUTHORITY_END.search(rest)
    cut = end.start() if end else len(rest)
    return scheme.lower(), rest[:cut], rest[cut:]


def shown_host(url: str) -> str | None:
    """The host[:port] that ``redact`` may show for ``url``, or None when it shows none."""
    parts = _split(url)
    if parts is None or parts[0] not in HOST_SHOWN:
        return None
    _, authority, tail = parts
    _, at, host = authority.rpartition("@")
    # An "@" after the authority while the authority has none means the userinfo held an
    # unencoded "/", "?" or "#" and what looks like a host may be part of a password.
    if not at and "@" in tail and (":" in authority or tail[:1] in "?#"):
        return None
    if not _HOST.fullmatch(host):
        return None
    # Our reading of the URL is not apprise's: rocket://TOKEN/part@host sends to "host", the
    # text before the "/" is half the webhook token. Shown only when apprise parsed that host.
    return host if _apprise_host_is(url, host) else None


def _apprise_host_is(url: str, host: str) -> bool:
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return False
    name, port = host, None
    if host.startswith("["):
        name, _, after = host.partition("]")
        name += "]"
        port = after[1:] or None
    elif ":" in host:
        name, _, port = host.rpartition(":")
    theirs = str(getattr(plugin, "host", None) or "").lower().rstrip(".")
    return name.lower().rstrip(".") == theirs and (
        port is None or int(port) == getattr(plugin, "port", None)
    )


def redact(url: str) -> str:
    """``scheme://…``, or ``scheme://host:port/…`` for the schemes in HOST_SHOWN."""
    parts = _split(url.strip())
    if parts is None:
        return "(not a URL)"
    scheme, authority, tail = parts
    host = shown_host(url.strip())
    if host is None:
        return f"{scheme}://…"
    more = bool(tail.strip("/")) or "@" in authority
    return f"{scheme}://{host}/…" if more else f"{scheme}://{host}"


def redact_urls_in(text: str) -> str:
    """Every ``scheme://…`` in free text (an old audit entry, a message) redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def url_secrets(url: str) -> set[str]:
    """Every piece of ``url`` that may be a secret, raw and percent-decoded: the whole URL,
    the userinfo and each part of it, the host unless ``redact`` shows it, each path segment,
    each query value and the fragment. Pieces shorter than MIN_SECRET are left out."""
    url = url.strip()
    pieces = {url}
    parts = _split(url)
    if parts is None:
        return {p for p in pieces if len(p) >= MIN_SECRET}
    _, authority, tail = parts
    pieces.add(url.partition("://")[2])
    host = authority.rpartition("@")[2]
    pieces |= userinfo_secrets(url)
    if shown_host(url) is None:
        pieces |= {authority, host, *_USERINFO_PIECES.split(host)}
    path, _, query = tail.partition("?")
    query, _, fragment = query.partition("#")
    path, _, path_fragment = path.partition("#")
    pieces |= set(_PIECES.split(path)) | {fragment, path_fragment}
    pieces |= set(_PIECES.split(fragment)) | set(_PIECES.split(path_fragment))
    for key, value in parse_qsl(query, keep_blank_values=True):
        pieces |= {value or key, *_PIECES.split(value)}
    for item in query.split("&"):
        pieces.add(item.partition("=")[2])
    pieces |= {unquote(p) for p in pieces}
    return {p for p in pieces if len(p) >= MIN_SECRET}


def token_parts(url: str) -> set[str]:
    """For a scheme whose host is a credential (not in HOST_SHOWN): the host, its pieces and
    each path segment, raw and decoded, whatever their case, down to MIN_TOKEN characters.
    ``ntfy://opsalerts`` has no other secret than its topic, a lowercase word."""
    parts = _split(url.strip())
    if parts is None or parts[0] in HOST_SHOWN:
        return set()
    _, authority, tail = parts
    host = authority.rpartition("@")[2]
    path = re.split(r"[?#]", tail, maxsplit=1)[0]
    pieces = {host, *_USERINFO_PIECES.split(host), *_PIECES.split(path)}
    pieces |= {unquote(p) for p in pieces}
    # A port ("ntfy.lan:8080") is no secret, and masking it would blank numbers in every line.
    return {p for p in pieces if len(p) >= MIN_TOKEN and not (p.isdigit() and len(p) <= 5)}


def userinfo_secrets(url: str) -> set[str]:
    """The userinfo of ``url`` (``user:password``), each part of it, raw and decoded."""
    parts = _split(url.strip())
    if parts is None:
        return set()
    userinfo = parts[1].rpartition("@")[0]
    pieces = {userinfo, *_USERINFO_PIECES.split(userinfo)}
    pieces |= {unquote(p) for p in pieces}
    return {p for p in pieces if len(p) >= MIN_SECRET}


def scrub(text: str | None, url: str) -> str:
    """``text`` (an error apprise or a check gave about ``url``) with each secret of ``url``
    replaced by ``***``, longest first so that a token is not half-masked by a piece of it."""
    if not text:
        return ""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
