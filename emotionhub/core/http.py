"""The one outbound HTTP client: social ingestion, media by URL, webhooks and alerts.

Feeds, posts, media URLs and webhook URLs are chosen by strangers, so every connection is
checked where it is made: the host name is resolved, every address must pass the policy,
and the socket is opened to the checked address (a DNS answer that changes between check
and connect cannot slip through; TLS still verifies the original host name). GET redirects
are followed by hand, each hop re-checked, at most ``EMOTIONHUB_FETCH_MAX_REDIRECTS`` of
them; POST redirects are returned, never followed. Environment proxies are ignored, since
a proxy would make the check meaningless. Bodies are streamed with a byte limit and an
overall deadline.

Policy (:class:`AddressPolicy`): only globally routable addresses, unless the policy allows
private ones or the address is inside its allowed networks. Fetching reads
``EMOTIONHUB_FETCH_ALLOW_PRIVATE`` / ``EMOTIONHUB_FETCH_ALLOWED_NETWORKS`` (tests use
127.0.0.1); webhook and alert deliveries read ``EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE`` /
``EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS``. Settings
are read when a connection is made, so a changed setting applies to the next request.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from emotionhub.core.addresses import effective_address, is_public

USER_AGENT = "EmotionHub/0.1 (social ingestion; +https://github.com/emotionhub)"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A fetch that failed; ``code`` is stable and recorded on the run."""

    def __init__(self, code: str, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


class UnsafeUrl(FetchError):
    """Not http(s), or the host resolves to an address the policy refuses."""

    def __init__(self, message: str) -> None:
        super().__init__("unsafe_url", message)


class RateLimited(FetchError):
    """HTTP 429 (or 503 with Retry-After): try again no sooner than ``retry_after`` s
    (None when the upstream did not say; the source then backs off exponentially)."""

    def __init__(self, retry_after: float | None, http_status: int) -> None:
        wait = f"retry after {retry_after:.0f} s" if retry_after is not None else "no Retry-After"
        super().__init__(
            "rate_limited", f"upstream answered {http_status}; {wait}", http_status=http_status
        )
        self.retry_after = retry_after


class _BlockedAddress(Exception):
    pass


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a connection may be opened to."""

    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    def allows(self, address: IPAddress) -> bool:
        if self.allow_private:
            return True
        # An IPv4-mapped, NAT64 or 6to4 address is judged by the IPv4 address it carries.
        candidates = {address, effective_address(address)}
        if any(
            a.version == n.version and a in n for a in candidates for n in self.allowed_networks
        ):
            return True
        return is_public(address)


def _parse_networks(names: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(name, strict=False) for name in names)


def fetch_policy() -> AddressPolicy:
    """Social ingestion and media submitted by URL."""
    return AddressPolicy(
        allow_private=settings.EMOTIONHUB_FETCH_ALLOW_PRIVATE,
        allowed_networks=_parse_networks(settings.EMOTIONHUB_FETCH_ALLOWED_NETWORKS),
    )


def webhook_policy() -> AddressPolicy:
    """Submission webhooks and alert webhooks (the receiver is the tenant's own server)."""
    return AddressPolicy(
        allow_private=settings.EMOTIONHUB_WEBHOOK_ALLOW_PRIVATE,
        allowed_networks=_parse_networks(settings.EMOTIONHUB_WEBHOOK_ALLOWED_NETWORKS),
    )


PolicySource = Callable[[], AddressPolicy]


def address_allowed(address: IPAddress, policy: AddressPolicy | None = None) -> bool:
    """Whether ``policy`` (default: the fetch policy) lets a connection reach ``address``."""
    return (policy or fetch_policy()).allows(address)


def resolve_checked(host: str, port: int, policy: AddressPolicy | None = None) -> list[str]:
    """The addresses of ``host``; raises if it does not resolve or any address is refused.

    Refusing when *any* address is private (not only the first) means a host cannot mix a
    public record with an internal one and win on the retry.
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise _BlockedAddress(f"host {host!r} does not resolve") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    policy = policy or fetch_policy()
    for raw in addresses:
        if not policy.allows(ipaddress.ip_address(raw.split("%")[0])):
            raise _BlockedAddress(f"host {host!r} resolves to a non-public address ({raw})")
    return addresses


class _CheckedConnectionMixin:
    policy_source: PolicySource = fetch_policy

    def _new_conn(self):
        host = self._dns_host
        addresses = resolve_checked(host, self.port, type(self).policy_source())
        self._dns_host = addresses[0]  # connect to what was checked; SNI keeps self.host
        try:
            return super()._new_conn()
        finally:
            self._dns_host = host


@functools.cache
def _pool_classes(policy_source: PolicySource) -> dict[str, type]:
    """Connection pools whose connections check addresses against ``policy_source()``."""
    checks = {"policy_source": staticmethod(policy_source)}
    http_conn = type("CheckedHTTPConnection", (_CheckedConnectionMixin, HTTPConnection), checks)
    https_conn = type("CheckedHTTPSConnection", (_CheckedConnectionMixin, HTTPSConnection), checks)
    return {
        "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class _CheckedAdapter(HTTPAdapter):
    def __init__(self, policy_source: PolicySource, **kwargs) -> None:
        self._pool_classes = _pool_classes(policy_source)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)


@dataclasses.dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def check_url_shape(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(f"only http(s) URLs with a host are fetched, not {url[:200]!r}")
    if parts.username or parts.password:
        raise UnsafeUrl("URLs with credentials are not fetched")


def check_destination(url: str, policy: AddressPolicy) -> None:
    """Refuse ``url`` early (before anything is stored) when its shape or addresses fail
    ``policy``. Connections check again when they are made; this is for a clear 400."""
    check_url_shape(url)
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    try:
        resolve_checked(parts.hostname or "", parts.port or default_port, policy)
    except _BlockedAddress as exc:
        raise UnsafeUrl(str(exc)) from None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta or HTTP date), or rate-limit reset headers."""
    value = (headers.get("Retry-After") or "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    # Reddit: x-ratelimit-reset (seconds); Bluesky: ratelimit-reset (epoch seconds);
    # Mastodon: X-RateLimit-Reset as an ISO 8601 time ("2026-11-01T10:05:00.123Z").
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        raw = (headers.get(name) or "").strip()
        try:
            number = float(raw)
        except ValueError:
            when = _iso_datetime(raw)
            if when is None:
                continue
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        return max(0.0, number - time.time()) if number > 1e9 else number
    return None


def _iso_datetime(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class SafeClient:
    """Requests with the address policy, bounded redirects, size limits and a deadline.

    ``policy`` is read at every connection (default: the fetch policy).
    """

    def __init__(
        self, *, policy: PolicySource = fetch_policy, user_agent: str = USER_AGENT
    ) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # no environment proxies: they would bypass the check
        adapter = _CheckedAdapter(policy, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SafeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        allowed_types: tuple[str, ...] | None = None,
    ) -> Fetched:
        """Fetch ``url``; any status is returned except redirects, which are followed.

        ``allowed_types`` are Content-Type prefixes; anything else is refused before the
        body is read (``unexpected_content_type``).
        """
        limit = max_bytes or settings.EMOTIONHUB_FETCH_MAX_BYTES
        timeout = settings.EMOTIONHUB_FETCH_TIMEOUT_SECONDS
        deadline = time.monotonic() + timeout * 2
        current, current_params = url, params
        for _hop in range(settings.EMOTIONHUB_FETCH_MAX_REDIRECTS + 1):
            check_url_shape(current)
            response = self._send("GET", current, timeout, params=current_params, headers=headers)
            with response:
                if response.status_code in REDIRECT_STATUSES and "Location" in response.headers:
                    current = urljoin(response.url, response.headers["Location"])
                    current_params = None
                    continue
                if allowed_types is not None and 200 <= response.status_code < 300:
                    mime = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    if not mime.startswith(allowed_types):
                        raise FetchError(
                            "unexpected_content_type",
                            f"{_host(current)} sent {mime or 'no content type'}",
                            http_status=response.status_code,
                        )
                body = _read_limited(response, limit, deadline)
                return Fetched(response.url, response.status_code, response.headers, body)
        raise FetchError(
            "too_many_redirects",
            f"more than {settings.EMOTIONHUB_FETCH_MAX_REDIRECTS} redirects from {url[:200]}",
        )

    def _send(self, method: str, url: str, timeout: float, **kwargs) -> requests.Response:
        """One request, redirects not followed, body streamed; a refused address, a timeout
        or a connection failure becomes the error callers expect."""
        try:
            return self.session.request(
                method,
                url,
                allow_redirects=False,
                stream=True,
                timeout=(timeout, timeout),
                **kwargs,
            )
        except _BlockedAddress as exc:
            raise UnsafeUrl(str(exc)) from None
        except requests.Timeout:
            raise FetchError("timeout", f"{_host(url)} did not answer in time") from None
        except (requests.RequestException, OSError) as exc:
            raise FetchError("connection_failed", f"{_host(url)}: {exc}") from None

    def post(
        self,
        url: str,
        *,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        read_body: bool = True,
    ) -> Fetched:
        """POST once. Redirects are returned, not followed: the next hop would receive the
        body without the caller having chosen it. ``read_body=False`` leaves the answer's
        body unread (deliveries need only the status)."""
        check_url_shape(url)
        timeout = timeout or settings.EMOTIONHUB_FETCH_TIMEOUT_SECONDS
        response = self._send("POST", url, timeout, data=data, headers=headers)
        with response:
            body = b""
            if read_body:
                limit = max_bytes or settings.EMOTIONHUB_FETCH_MAX_BYTES
                body = _read_limited(response, limit, time.monotonic() + timeout * 2)
            return Fetched(response.url, response.status_code, response.headers, body)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url[:100]


def _read_limited(response: requests.Response, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(
            "response_too_large",
            f"{_host(response.url)} declares {declared} bytes; the limit is {limit}",
            http_status=response.status_code,
        )
    chunks, total = [], 0
    raw = response.raw
    try:
        # read1 returns whatever arrived, so a server dripping bytes meets the deadline.
        while chunk := raw.read1(64 * 1024, decode_content=True):
            total += len(chunk)
            if total > limit:
                raise FetchError(
                    "response_too_large",
                    f"{_host(response.url)} sent more than {limit} bytes",
                    http_status=response.status_code,
                )
            if time.monotonic() > deadline:
                raise FetchError("timeout", f"{_host(response.url)} sent its body too slowly")
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise FetchError("connection_failed", f"{_host(response.url)}: {exc}") from None
    return b"".join(chunks)


def raise_for_status(fetched: Fetched) -> None:
    """Turn an upstream error status into the error the run records."""
    if fetched.status == 429 or (fetched.status == 503 and "Retry-After" in fetched.headers):
        raise RateLimited(retry_after_seconds(fetched.headers), fetched.status)
    if not 200 <= fetched.status < 300:
        raise FetchError(
            "upstream_http_error",
            f"{_host(fetched.url)} answered HTTP {fetched.status}",
            http_status=fetched.status,
        )
