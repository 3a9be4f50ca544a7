"""The pseudonymisation measures of monitoring, as pure functions.

Each function takes what a browser sent and returns the least of it that the dashboards need:
a visitor code under the day's salt, a shortened IP address, a generalised device, a path with
only the declared query parameters, and a referrer's host.
"""

from __future__ import annotations

import fnmatch
import hmac
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit

from ua_parser import parse

# Automated clients that announce themselves, beyond what ua-parser already calls a spider.
BOT = re.compile(
    r"bot|crawl|spider|slurp|headless|phantomjs|lighthouse|pagespeed|preview|monitor|uptime|"
    r"python-|curl/|wget/|httpclient|okhttp|go-http|java/|libwww|scrapy|axios|node-fetch|"
    r"puppeteer|playwright|selenium|cypress|electron/",
    re.IGNORECASE,
)
TABLETS = re.compile(r"ipad|tablet|kindle|silk|playbook|sm-t\d|nexus (7|9|10)", re.IGNORECASE)
MAX_UA = 512


@dataclass(frozen=True, slots=True)
class Device:
    """A user-agent string reduced to what monitoring keeps."""

    browser: str | None
    browser_version: str | None
    os: str | None
    device: str  # desktop, mobile, tablet or other
    bot: bool


@lru_cache(maxsize=4096)
def device_of(user_agent: str) -> Device:
    """Browser family and major version, OS family and device type; bots flagged (cached)."""
    ua = user_agent[:MAX_UA]
    if not ua.strip() or BOT.search(ua):
        return Device(None, None, None, "other", True)
    result = parse(ua)
    agent, os, dev = result.user_agent, result.os, result.device
    if dev is not None and dev.family == "Spider":
        return Device(None, None, None, "other", True)
    browser = agent.family if agent is not None and agent.family != "Other" else None
    version = agent.major if agent is not None else None
    os_family = os.family if os is not None and os.family != "Other" else None
    if TABLETS.search(ua):
        kind = "tablet"
    elif "Mobi" in ua or (os_family in ("iOS", "Android")):
        kind = "mobile"
    elif os_family is not None:
        kind = "desktop"
    else:
        kind = "other"
    return Device(
        browser[:40] if browser else None,
        version[:12] if version else None,
        os_family[:40] if os_family else None,
        kind,
        False,
    )


def ip_prefix(ip: str, *, ipv4_prefix: int, ipv6_prefix: int) -> str | None:
    """The network of ``ip`` shortened to the policy's prefix (``192.0.2.0/24``); None if not an IP."""
    text = ip.strip()
    for family, bits, prefix in ((socket.AF_INET, 32, ipv4_prefix), (socket.AF_INET6, 128, ipv6_prefix)):
        try:
            packed = socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
        if family == socket.AF_INET6 and packed[:12] == _V4_MAPPED:
            packed, family, bits, prefix = packed[12:], socket.AF_INET, 32, ipv4_prefix
        mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
        network = (int.from_bytes(packed, "big") & mask).to_bytes(bits // 8, "big")
        return f"{socket.inet_ntop(family, network)}/{prefix}"
    return None


_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def visitor_id(salt: bytes, site: str, ip: str, user_agent: str) -> int:
    """The visitor's code of the day: HMAC-SHA256 under the day's salt, truncated to 64 bits.

    Without the salt the code cannot be recomputed from an IP address and browser, and the
    salt is destroyed after the policy's salt lifetime.
    """
    message = b"\x1f".join((site.encode(), ip.encode(), user_agent[:MAX_UA].encode("utf-8", "replace")))
    return int.from_bytes(hmac.digest(salt, message, "sha256")[:8], "big", signed=True)


class UrlReducer:
    """Splits a page address into its path and the declared query parameters only."""

    def __init__(self, kept: list[str]) -> None:
        self.patterns = tuple(kept)
        # The literal start of every pattern: a query string without any of them keeps nothing.
        self.hints = tuple(re.split(r"[*?\[]", p, maxsplit=1)[0] for p in self.patterns)

    def keeps(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def reduce(self, url: str) -> tuple[str, str, str | None] | None:
        """(host, path, kept query) of an http(s) address, or None when it is not one."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        path = parts.path or "/"
        query = None
        if parts.query and any(hint in parts.query for hint in self.hints):
            kept = [(k, v[:100]) for k, v in parse_qsl(parts.query, keep_blank_values=False) if self.keeps(k)]
            query = urlencode(kept)[:512] or None
        return parts.hostname, _clip(path, 1024), query


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8 (an index entry has a size limit), on a character boundary."""
    data = text.encode("utf-8", "replace")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def referrer_host(referrer: str | None, own_host: str | None = None) -> str | None:
    """The host of a referrer, without ``www.``; None when absent or the site itself."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.removeprefix("www.")[:253]
    if own_host is not None and host == own_host.removeprefix("www."):
        return None
    return host


def link_target(url: str | None) -> str | None:
    """A link's address without query string and fragment (it may carry someone's data)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https", "mailto", "tel") or (
        parts.scheme.startswith("http") and not parts.hostname
    ):
        return None
    if parts.scheme in ("mailto", "tel"):
        return f"{parts.scheme}:"  # the address itself is someone's contact data
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"[:1024]
