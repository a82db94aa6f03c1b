"""Every refusal as a JSON 4xx that names the problem; never a traceback to the client.

``{"detail": "<one line>"}`` (FastAPI's shape), with ``limit`` and ``value`` added for 413 and
``errors`` (the fields and what was expected) for 422 validation errors. An unexpected error
is logged here with its traceback and answered 500 ``{"detail": "internal error ..."}``.
"""
import logging
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..utils.image_checks import CorruptImageError, TruncatedImageError

__all__ = ['ServeError', 'NotAnImageError', 'TooLargeError', 'QueueFullError', 'install_error_handlers',
           'one_line', 'CLIENT_GONE']

logger = logging.getLogger('paddlematting.serve')
CLIENT_GONE = 499  # nginx's "client closed request": logged and counted, never read by anyone


class ServeError(Exception):
    """A refusal with its HTTP status, extra headers (e.g. Retry-After) and JSON fields."""

    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None,
                 fields: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.fields = fields or {}


class NotAnImageError(ServeError):
    """The body is not an image the decoder knows (415)."""

    def __init__(self, message: str):
        super().__init__(415, message)


class TooLargeError(ServeError):
    """Over ``--max-pixels`` or ``--max-bytes`` (413; the JSON names the limit and its value)."""

    def __init__(self, message: str, limit: str, value: int):
        flag = '--' + limit.replace('_', '-')
        super().__init__(413, f'{message} ({flag})', fields={'limit': limit, 'value': value})


class QueueFullError(ServeError):
    """This worker holds ``max_queue`` requests already (503, Retry-After in seconds)."""

    def __init__(self, capacity: int, retry_after: int):
        super().__init__(503, f'the server is busy: its queue of {capacity} request(s) is full; '
                              f'retry after {retry_after} s', {'Retry-After': str(retry_after)})


def one_line(error: BaseException) -> str:
    """The error's message on one line."""
    return ' '.join(str(error).split()) or type(error).__name__


def _validation_message(errors: list) -> str:
    parts = []
    for error in errors:
        where = '.'.join(str(p) for p in error.get('loc', ()) if p not in ('body', 'query'))
        what = 'unknown parameter' if error.get('type') == 'extra_forbidden' else error.get('msg', '')
        parts.append(f'{where}: {what}' if where else what)
    return 'bad parameters: ' + '; '.join(parts)


def _json(status: int, detail: str, headers: Optional[Dict[str, str]] = None, **extra: Any) -> JSONResponse:
    return JSONResponse({'detail': detail, **extra}, status_code=status, headers=headers)


def error_response(error: BaseException) -> JSONResponse:
    """The response for ``error`` raised while serving a request."""
    if isinstance(error, ServeError):
        return _json(error.status, one_line(error), error.headers, **error.fields)
    if isinstance(error, (RequestValidationError, ValidationError)):
        errors = [{k: v for k, v in e.items() if k in ('loc', 'msg', 'type')} for e in error.errors()]
        return _json(422, _validation_message(errors), errors=errors)
    if isinstance(error, (TruncatedImageError, CorruptImageError, ValueError)):
        return _json(422, one_line(error))  # our ValueErrors carry a message for the user
    logger.error('unexpected error serving a request', exc_info=error)
    return _json(500, 'internal error (the server logged it)')


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception a handler raises through ``error_response``."""
    async def handle(request: Request, error: Exception) -> JSONResponse:
        return error_response(error)

    for kind in (ServeError, RequestValidationError, ValidationError, ValueError, Exception):
        app.add_exception_handler(kind, handle)
