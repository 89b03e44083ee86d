"""``/api/v1/stream``: live frames in, per-frame faces with stable track ids out.

Protocol (docs in README "Real-time analysis"):

- Connect with ``Authorization: Api-Key <key>`` or ``?token=<stream token>`` (from
  ``POST /api/v1/stream-tokens``), optional ``analyzers``, ``analyzer_settings`` (JSON) and
  ``consent`` query parameters. The server accepts, then either sends ``{"type": "ready"}``
  or ``{"type": "error", "code", "message"}`` and closes with ``4000 + HTTP status``
  (4401 credentials, 4403 scope or purpose, 4400 bad options, 4422 consent, 4429 limits).
- Send frames as binary JPEG/PNG/WebP messages (numbered by the server) or as text
  ``{"seq": n, "image": "<base64 or data: URL>"}``.
- Each analysed frame is answered ``{"type": "result", "seq", "faces": [... "track_id",
  "smoothed" ...], "dropped", "latency_ms", ...}``; a bad frame gets ``{"type": "error",
  "seq", "code"}`` with the upload codes and the stream goes on.

Back-pressure: a stream has one slot in the analyzer's batcher (``engine``). A frame that
arrives while the previous one still waits there replaces it; the replaced frames are
counted and reported as ``dropped`` with the next answer. So the frame analysed is always
the newest and latency stays about one batch long however fast a client sends. Decoding
and inference run off the event loop, in the analyzer's batcher thread shared with every
other stream of the process; a frame replaced before it was taken is never decoded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import close_old_connections, connections
from rest_framework.exceptions import AuthenticationFailed

from emotionhub.accounts.authentication import api_key_for_header
from emotionhub.accounts.principal import Principal
from emotionhub.audit import Action, record
from emotionhub.core import jsonlimits
from emotionhub.core.errors import DomainError
from emotionhub.jobs.models import Consent
from emotionhub.limits import quota
from emotionhub.limits.throttling import count_request
from emotionhub.realtime import analysis, engine, policy, tokens
from emotionhub.realtime.tracking import StreamTracks

log = logging.getLogger(__name__)
PATH = "/api/v1/stream"
#: Frames of quota a stream reserves at a time (one database write per block, not per
#: frame); what it did not use is given back when it closes. A process that dies loses at
#: most this many items of its streams' quota for the day.
QUOTA_BLOCK = 15


def in_thread(func):
    """Run blocking code in the thread pool, not the one thread Django's sync views share."""
    return sync_to_async(func, thread_sensitive=False)


#: One thread, with one kept database connection, for every stream's ORM calls (auth,
#: quota, audit): short queries that must not wait behind a sync view of the shared thread.
_db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realtime-db")


def _with_fresh_connection(func, *args, **kwargs):
    close_old_connections()  # one past CONN_MAX_AGE or broken is replaced, as per request
    return func(*args, **kwargs)


def db_in_thread(func):
    """Like ``in_thread`` for ORM code, in the realtime database thread."""

    async def call(*args, **kwargs):
        loop = asyncio.get_running_loop()
        work = functools.partial(_with_fresh_connection, func, *args, **kwargs)
        return await loop.run_in_executor(_db_executor, work)

    return call


def close_db_connections() -> None:
    """Close the realtime database thread's connection (tests dropping their database)."""
    _db_executor.submit(connections.close_all).result()


def group_name(tenant_id) -> str:
    """The channel-layer group of a tenant's live streams (closed on a purpose change)."""
    return f"realtime.tenant.{tenant_id}"


class StreamConsumer(AsyncWebsocketConsumer):
    # Set by connect() once the client is authenticated; the handlers that use them run
    # only on a ready stream (or, like stream_recheck, after it joined its tenant's group).
    principal: Principal
    plan: policy.RealtimePlan

    async def connect(self) -> None:
        self.stream_id = uuid.uuid4()
        self.closed = False
        self.ready = False
        self.answers: set[asyncio.Task] = set()
        self.reserved = 0  # quota items consumed for this stream, not yet used
        self.reserved_day = quota.utc_day()  # the day of the reservation, set with it
        self.quota_lock = asyncio.Lock()
        self.next_seq = 0
        self.dropped = self.dropped_total = self.analysed = self.rejected = 0
        self.started = time.perf_counter()
        await self.accept()
        try:
            self.principal, self.user, via = await self._authenticate()
            policy.check_scope(self.principal)
            query = self._query()
            self.plan = await db_in_thread(policy.plan)(
                self.principal,
                policy.parse_analyzers(query.get("analyzers")),
                policy.parse_settings(query.get("analyzer_settings")),
                query.get("consent") or Consent.UNKNOWN,
            )
            ident = f"key:{self.principal.api_key.pk}" if self.principal.api_key else None
            if ident is None and self.user is not None:
                ident = f"user:{self.user.pk}"
            if ident is not None:
                await in_thread(count_request)(ident, self.principal.api_key)
        except DomainError as exc:
            await self._refuse(exc.code, exc.message, 4000 + exc.status, exc.details)
            return
        self.tracks = StreamTracks(settings.EMOTIONHUB_STREAM_SMOOTHING_SECONDS)
        if self.channel_layer is not None:
            await self.channel_layer.group_add(
                group_name(self.principal.tenant.pk), self.channel_name
            )
        await db_in_thread(self._audit)(
            Action.CREATE, {"analyzers": list(self.plan.analyzers), "auth": via}
        )
        for name in self.plan.analyzers:  # load the models now, not on the first frame
            await in_thread(engine.batcher)(name)
        self.ready = True
        await self._send(
            {
                "type": "ready",
                "stream": str(self.stream_id),
                "analyzers": list(self.plan.analyzers),
                "analyzer_settings": self.plan.analyzer_settings,
                "max_frame_bytes": settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES,
                "smoothing_seconds": settings.EMOTIONHUB_STREAM_SMOOTHING_SECONDS,
            }
        )

    async def _authenticate(self):
        headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in self.scope["headers"]}
        token = self._query().get("token")
        try:
            key = await db_in_thread(api_key_for_header)(headers.get("authorization", ""))
        except AuthenticationFailed as exc:
            raise DomainError("authentication_failed", str(exc.detail), status=401) from None
        if key is not None:
            return Principal(key.tenant, frozenset(key.scopes), key), None, "api_key"
        if token:
            try:
                principal, user = await db_in_thread(tokens.redeem)(token)
            except tokens.InvalidToken as exc:
                raise DomainError("authentication_failed", str(exc), status=401) from None
            return principal, user, "token"
        raise DomainError(
            "not_authenticated",
            "Send `Authorization: Api-Key <key>` or `?token=` from POST /api/v1/stream-tokens.",
            status=401,
        )

    def _query(self) -> dict[str, str]:
        raw = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        return {name: values[-1] for name, values in raw.items()}

    async def _refuse(self, code: str, message: str, close_code: int, details=None) -> None:
        body = {"type": "error", "code": code, "message": message}
        if details:
            body["details"] = details
        await self._send(body)
        await self.close(code=close_code)
        self.closed = True

    async def _send(self, body: dict) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(body))

    # ---- frames in ------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.closed or not self.ready:
            return
        received = time.perf_counter()
        if bytes_data is not None:
            self.next_seq += 1
            seq, data = self.next_seq, bytes_data
        else:
            try:
                seq, data = _json_frame(text_data)
            except DomainError as exc:
                self.rejected += 1
                await self._send(
                    {"type": "error", "seq": None, "code": exc.code, "message": exc.message}
                )
                return
            self.next_seq = max(self.next_seq, seq)
        limit = settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES
        if len(data) > limit:
            self.rejected += 1
            await self._send(
                {
                    "type": "error",
                    "seq": seq,
                    "code": "file_too_large",
                    "message": f"The frame is {len(data)} bytes; the limit is {limit}.",
                    "details": {"size": len(data), "max_bytes": limit},
                }
            )
            return
        frame_id = f"{self.stream_id}:{seq}"
        futures = analysis.submit_encoded(self.plan, data, frame_id, str(self.stream_id))
        task = asyncio.create_task(self._answer(seq, received, futures))
        self.answers.add(task)
        task.add_done_callback(self.answers.discard)

    # ---- analysis -------------------------------------------------------------------------
    async def _answer(self, seq: int, received: float, futures: list) -> None:
        try:
            outcomes = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except engine.Superseded:
            self.dropped += 1
            self.dropped_total += 1
            return
        except DomainError as exc:  # the frame did not decode
            self.rejected += 1
            await self._send(
                {
                    "type": "error",
                    "seq": seq,
                    "code": exc.code,
                    "message": exc.message,
                    **({"details": exc.details} if exc.details else {}),
                }
            )
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream %s: frame %s failed", self.stream_id, seq)
            await self._send(
                {
                    "type": "error",
                    "seq": seq,
                    "code": "internal_error",
                    "message": "The frame failed on our side; it was logged.",
                }
            )
            return
        if self.closed:  # the client left while its frame was analysed
            return
        if self.principal.api_key is not None:
            try:  # only analysed frames count; a refused one's answer is not delivered
                await self._use_quota()
            except DomainError as exc:
                self.rejected += 1
                await self._send(
                    {
                        "type": "error",
                        "seq": seq,
                        "code": exc.code,
                        "message": exc.message,
                        "details": exc.details,
                    }
                )
                await self.close(code=4429)
                self.closed = True
                return
        self.analysed += 1
        dropped, self.dropped = self.dropped, 0
        entries = analysis.result_entries(self.plan, outcomes)
        faces: list[dict] = next(
            (e["payload"]["faces"] for e in entries if e["payload"] and "faces" in e["payload"]),
            [],
        )
        tracked = self.tracks.update(received - self.started, faces)
        first = outcomes[0]
        await self._send(
            {
                "type": "result",
                "seq": seq,
                "faces": tracked,
                "results": entries,
                "dropped": dropped,
                "dropped_total": self.dropped_total,
                "analysed": self.analysed,
                "decode_ms": round(first.decode_ms, 2),
                "queue_ms": round(first.queue_ms, 2),
                "inference_ms": round(max(o.inference_ms for o in outcomes), 2),
                "batch_size": first.batch_size,
                "latency_ms": round((time.perf_counter() - received) * 1000, 2),
                "model_version": entries[0]["model_version"],
                "device": first.device,
            }
        )

    async def _use_quota(self) -> None:
        """One item of the key's daily quota, from the stream's reservation."""
        async with self.quota_lock:
            if self.reserved == 0:
                key = self.principal.api_key
                try:
                    await db_in_thread(quota.consume)(key, QUOTA_BLOCK)
                    block = QUOTA_BLOCK
                except DomainError:  # fewer left than a block: frame by frame
                    await db_in_thread(quota.consume)(key, 1)
                    block = 1
                self.reserved, self.reserved_day = block, quota.utc_day()
            self.reserved -= 1

    # ---- the end ----------------------------------------------------------------------------
    async def disconnect(self, code) -> None:
        self.closed = True
        if self.ready:
            for name in self.plan.analyzers:
                engine.batcher(name).withdraw(str(self.stream_id))
            for task in list(self.answers):
                task.cancel()
            await asyncio.gather(*self.answers, return_exceptions=True)
            if self.reserved:
                await db_in_thread(quota.release)(
                    self.principal.api_key, self.reserved, self.reserved_day
                )
                self.reserved = 0
            await db_in_thread(self._audit)(
                Action.UPDATE,
                {
                    "operation": "stream_closed",
                    "analysed": self.analysed,
                    "dropped": self.dropped_total,
                    "rejected": self.rejected,
                    "seconds": round(time.perf_counter() - self.started, 1),
                    "close_code": code,
                },
            )
            if self.channel_layer is not None:
                await self.channel_layer.group_discard(
                    group_name(self.principal.tenant.pk), self.channel_name
                )

    async def stream_recheck(self, event: dict) -> None:
        """Channel-layer message (``signals.py``): the tenant changed; close the stream
        when its purpose no longer allows these analyzers."""
        refusal = await db_in_thread(_purpose_refusal)(self.principal.tenant.pk, self.plan)
        if refusal is not None and not self.closed:
            await self._refuse(refusal.code, refusal.message, 4403, refusal.details)

    def _audit(self, action: Action, details: dict) -> None:
        client = self.scope.get("client") or ("", 0)
        headers = dict(self.scope.get("headers", []))
        request = SimpleNamespace(
            META={
                "REMOTE_ADDR": client[0] or "",
                "HTTP_USER_AGENT": headers.get(b"user-agent", b"").decode("latin1"),
                "HTTP_X_FORWARDED_FOR": headers.get(b"x-forwarded-for", b"").decode("latin1"),
            },
            method="GET",
            path=PATH,
            auth=self.principal.api_key,
            user=self.user or AnonymousUser(),
        )
        record(
            action,
            tenant=self.principal.tenant,
            obj_type="stream",
            obj_id=self.stream_id,
            count=self.analysed or None,
            details=details,
            request=request,
            strict=False,
        )


def _purpose_refusal(tenant_id, plan):
    from emotionhub.accounts.models import Tenant
    from emotionhub.accounts.purpose import face_emotion_refusal

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return None
    return face_emotion_refusal(tenant.purpose, plan.analyzers)


def _json_frame(text: str | None) -> tuple[int, bytes]:
    """``{"seq": n, "image": "<base64 | data: URL>"}`` -> (seq, bytes)."""
    try:
        message = jsonlimits.loads(text or "")
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        raise DomainError("malformed_request", "Text messages must be JSON objects.")
    seq, image = message.get("seq"), message.get("image")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise DomainError("malformed_request", "`seq` must be a non-negative integer.")
    if not isinstance(image, str) or not image:
        raise DomainError("malformed_request", "`image` must be a base64 string or data: URL.")
    if image.startswith("data:"):
        image = image.partition(",")[2]
    try:
        return seq, base64.b64decode(image, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("malformed_request", "`image` is not valid base64.") from None
