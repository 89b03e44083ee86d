"""Downloads a post's images within the upload limits, through the safe client.

A downloaded image is checked exactly as an uploaded one (``media.validation``: type from
the content, byte and pixel limits, header-only decoding), after the declared
Content-Type and size have already been checked, so an oversized or non-image answer is
refused before its body is read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from emotionhub.core.errors import DomainError
from emotionhub.core.http import FetchError, SafeClient
from emotionhub.media.validation import IMAGE_MIMES, check_upload


class MediaRefused(Exception):
    def __init__(self, url: str, code: str, message: str) -> None:
        super().__init__(message)
        self.url, self.code, self.message = url, code, message

    def as_dict(self) -> dict[str, str]:
        return {"url": self.url[:500], "code": self.code, "message": self.message[:500]}


def download_image(client: SafeClient, url: str) -> SimpleUploadedFile:
    """The image at ``url`` as an upload ready for a submission; raises :class:`MediaRefused`."""
    limit = settings.EMOTIONHUB_MAX_UPLOAD_BYTES["image"]
    try:
        fetched = client.get(
            url,
            headers={"Accept": ", ".join(sorted(IMAGE_MIMES))},
            max_bytes=limit,
            allowed_types=tuple(sorted(IMAGE_MIMES)),
        )
    except FetchError as exc:
        raise MediaRefused(url, exc.code, exc.message) from None
    if fetched.status != 200:
        raise MediaRefused(url, "upstream_http_error", f"HTTP {fetched.status}")
    name = (urlsplit(fetched.url).path.rsplit("/", 1)[-1] or "image")[:100]
    upload = SimpleUploadedFile(name, fetched.body, content_type=fetched.content_type)
    try:
        checked = check_upload(upload, field="image")
    except DomainError as exc:
        raise MediaRefused(url, exc.code, exc.message) from None
    if checked.kind != "image":
        raise MediaRefused(url, "unsupported_media_type", f"the content is {checked.mime}")
    return upload
