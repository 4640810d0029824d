"""The analysts' review console: server-rendered pages over the monitor database.

``create_app`` is imported lazily so that the pipeline can use ``monitor.store.search`` without
loading the web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    from monitor.web.app import create_app as factory

    return factory(*args, **kwargs)


__all__ = ["create_app"]
