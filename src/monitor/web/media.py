"""GET /media/{id}: a post's statement image (#13), as the content-addressed store keeps it.

The bytes come from the adversary. They are served only under the type sniffed from them when
they were stored (``MediaFile.mime``), and only for the four image types a browser shows as an
image and never runs: anything else (an SVG, HTML dressed as a photo) is a 404, never a
download or a page on our origin. ``nosniff`` keeps the browser from second-guessing the type;
the file name is ours, never one a channel gave.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from monitor.media.store import MediaStore
from monitor.store.models import MediaFile
from monitor.web.auth import DB, Analyst
from monitor.web.params import path_id

log = logging.getLogger(__name__)
router = APIRouter()

# Sniffed type -> the extension of the name the browser saves it under.
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
GONE = "The image of this post is not available."

MediaId = Annotated[int, path_id("media_id", "image")]


def media_store(request: Request) -> MediaStore:
    settings = request.app.state.settings
    return MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes)


def servable(media: MediaFile) -> bool:
    """Whether ``media`` has bytes the route would serve (the post page links only those)."""
    return bool(media.sha256) and media.mime in IMAGE_TYPES


@router.get("/media/{media_id}")
def media_file(request: Request, me: Analyst, db: DB, media_id: MediaId) -> Response:
    media = db.get(MediaFile, media_id)
    if media is None:
        raise HTTPException(404, "No such image.")
    if not media.sha256:
        raise HTTPException(404, "The image of this post has not been fetched yet.")
    ext = IMAGE_TYPES.get(media.mime or "")
    if ext is None:
        # Logged without the value: it is whatever the sniffer made of hostile bytes.
        log.warning("media %d not served: not an image type the console shows", media.id)
        raise HTTPException(404, GONE)
    try:
        data = media_store(request).read(media.sha256)
    except FileNotFoundError:
        log.warning("media %d: file %s… missing from the media store", media.id, media.sha256[:12])
        raise HTTPException(404, GONE) from None
    except ValueError as exc:  # the file no longer matches its hash, or the hash is not one
        log.error("media %d: %s", media.id, exc)
        raise HTTPException(404, GONE) from None
    except OSError as exc:
        log.error("media %d: cannot read the media store: %s", media.id, type(exc).__name__)
        raise HTTPException(404, GONE) from None
    return Response(
        data,
        media_type=media.mime,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="media-{media.id}.{ext}"',
            # Like every page (web/security.py): the image is as sensitive as the post, and
            # a browser cache would keep it on a shared machine after the analyst signs out.
            "Cache-Control": "no-store",
        },
    )
