"""A tenant saved (purpose changed in the admin) tells its live streams to re-check the
purpose rule through the channel layer; a stream it now forbids closes with 4403."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from emotionhub.accounts.models import Tenant

log = logging.getLogger(__name__)


@receiver(post_save, sender=Tenant, dispatch_uid="realtime-tenant-recheck")
def recheck_streams(sender, instance: Tenant, created: bool, **kwargs) -> None:
    if created:
        return
    from emotionhub.realtime.consumers import group_name

    def notify() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group_name(instance.pk), {"type": "stream.recheck"})
        except Exception:  # a live stream is re-checked at its next connection anyway
            log.exception("could not notify the live streams of tenant %s", instance.pk)

    transaction.on_commit(notify)
