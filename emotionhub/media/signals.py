"""A deleted Media row takes its stored file with it, whatever deleted it (the API, a
post or submission cascade, the admin, a tenant), once the deletion commits."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from emotionhub.media.models import Media

log = logging.getLogger(__name__)


@receiver(post_delete, sender=Media, dispatch_uid="media-file-cleanup")
def remove_stored_file(sender, instance: Media, **kwargs) -> None:
    if not instance.file:
        return
    storage, name = instance.file.storage, instance.file.name

    def remove() -> None:
        try:
            storage.delete(name)
        except OSError:
            log.exception("could not remove the file %s of deleted media %s", name, instance.pk)

    transaction.on_commit(remove)
