"""Which Adblock Plus rules are host rules, and the host they name.

Grammar of the rules taken (Adblock Plus filter syntax, as also read by
uBlock Origin and AdGuard)::

    rule     = ["@@"] "||" host "^" ["|"] ["$" option *("," option)]
    option   = "third-party" | "3p" | "document" | "doc" | "all" | "popup"

``||`` anchors at a host-name boundary and ``^`` is a separator, so the rule
covers the host and its subdomains whatever the URL after it. The options
kept only describe the request's context; anything else narrows the rule
to some requests, which a DNS blocker cannot see, so the rule is skipped.
"""

from __future__ import annotations

import re

from netwarden.intel.domain_name import looks_like_ip_address
from netwarden.intel.list_item import Item, ItemKind, skip

HOST_LEVEL_OPTIONS = frozenset({"third-party", "3p", "document", "doc", "all", "popup"})

RESOURCE_TYPE_OPTIONS = frozenset(
    {
        "script",
        "image",
        "stylesheet",
        "css",
        "object",
        "xmlhttprequest",
        "xhr",
        "subdocument",
        "frame",
        "ping",
        "beacon",
        "websocket",
        "webrtc",
        "media",
        "font",
        "other",
        "object-subrequest",
    }
)

DOMAIN_OPTIONS = ("domain=", "from=", "to=", "denyallow=")

# Element hiding and scriptlet separators: ##, #@#, #?#, #@?#, #$#, #@$#,
# #%#, #@%# (ABP, uBO, AdGuard) and AdGuard's HTML filters $$ and $@$.
_COSMETIC = re.compile(r"#@?[?$%]?#|\$@?\$")

_REGEX_RULE = re.compile(r"/.+/(\$.*)?")


def has_cosmetic_separator(text: str) -> bool:
    return _COSMETIC.search(text) is not None


def parse_adblock_line(text: str) -> list[Item]:
    """Items of one stripped, non-empty Adblock line."""
    if text.startswith(("!", "[")):
        return [skip("comment")]
    if _COSMETIC.search(text):
        return [skip("cosmetic")]
    allow = text.startswith("@@")
    body = text[2:] if allow else text
    if body.startswith("/"):
        return [skip("regex" if _REGEX_RULE.fullmatch(body) else "path")]
    if not body.startswith("||"):
        return [skip("url pattern")]
    pattern, _, options = body[2:].partition("$")
    reason = _options_skip_reason(options) if options else None
    if reason is None:
        return [_host_item(pattern, ItemKind.ALLOW if allow else ItemKind.BLOCK)]
    return [skip(reason)]


def _host_item(pattern: str, kind: ItemKind) -> Item:
    host = pattern.removesuffix("|")
    if not host.endswith("^"):
        return skip(_no_separator_reason(host))
    host = host[:-1]
    if "/" in host or "^" in host:
        return skip("path")
    if "*" in host or host.endswith("."):
        # "||ads.example.*^" or "||tracker.example.^": any top-level domain.
        return skip("wildcard")
    if looks_like_ip_address(host):
        return skip("ip address")
    return Item(kind, host)


def _no_separator_reason(host: str) -> str:
    if "/" in host or "^" in host:
        return "path"
    if "*" in host or host.endswith("."):
        return "wildcard"
    # "||example.com" without "^" also matches "example.com.evil.net/...".
    return "no separator"


def _options_skip_reason(options: str) -> str | None:
    """None when every option is host-level, else the reason to skip."""
    reason: str | None = None
    for option in options.lower().split(","):
        name = option.strip()
        if name in HOST_LEVEL_OPTIONS:
            continue
        if name.lstrip("~") in RESOURCE_TYPE_OPTIONS:
            return "resource-type option"
        if name.startswith(DOMAIN_OPTIONS):
            return "domain option"
        reason = "other option"
    return reason
