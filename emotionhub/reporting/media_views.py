"""Stored images, resized, for the review page and the dashboard's thumbnails.

Media files are not served from MEDIA_URL (they belong to tenants): this view checks the
signed-in user's tenant first, and re-encodes so no original bytes or metadata leak.
Tenants with ``blur_faces`` get every face blurred (``face_blur``).
"""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from PIL import Image, UnidentifiedImageError

from emotionhub.accounts.access import scope_queryset
from emotionhub.media.models import Media, MediaKind
from emotionhub.reporting.face_blur import blur_faces

DEFAULT_SIZE = 160
MAX_SIZE = 1600


@login_required
def media_image(request: HttpRequest, pk) -> HttpResponse:
    try:
        size = int(request.GET.get("size", DEFAULT_SIZE))
    except ValueError:
        return HttpResponseBadRequest("size must be an integer")
    if not 16 <= size <= MAX_SIZE:
        return HttpResponseBadRequest(f"size must be between 16 and {MAX_SIZE}")
    images = scope_queryset(Media.objects.filter(kind=MediaKind.IMAGE), request.user)
    media = images.select_related("tenant").filter(pk=pk).first()
    if media is None or not media.file:
        raise Http404("No such image.")
    try:
        with media.file.open("rb") as handle:
            image: Image.Image = Image.open(handle)
            original_size = image.size
            image.thumbnail((size, size))
            image = image.convert("RGB")
    except (OSError, ValueError, UnidentifiedImageError):
        raise Http404("The stored image cannot be read.") from None
    if media.tenant.blur_faces:
        image = blur_faces(media, image, original_size)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    response = HttpResponse(buffer.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response
