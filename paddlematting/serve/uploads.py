"""An upload read into memory, bounded: the body (at most ``max_bytes``, within
``read_timeout``), then the image and the form fields of a multipart body.

Nothing touches the disk: Starlette's own form parser spools files over 1 MB to a temporary
file, so multipart bodies are parsed here (python-multipart's streaming parser, in memory).
A body is either ``multipart/form-data`` with the image in the field ``file`` (rembg's) and
options as further fields, or the raw image bytes (under any other content type).
"""
import asyncio
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from fastapi import Request
from starlette.requests import ClientDisconnect
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import CLIENT_GONE, ServeError, TooLargeError, one_line

__all__ = ['Upload', 'read_upload', 'check_bytes', 'FILE_FIELD', 'MAX_FIELDS']

FILE_FIELD = 'file'
MAX_FIELDS = 32  # options are a dozen short fields; more is not a client of ours
MAX_FIELD_BYTES = 1024


@dataclass
class Upload:
    """The image bytes and the form's other fields (name -> text)."""
    data: bytes = b''
    fields: Dict[str, str] = field(default_factory=dict)


def check_bytes(size: int, max_bytes: int, what: str) -> None:
    """TooLargeError (413) when ``size`` bytes exceed ``max_bytes``."""
    if size > max_bytes:
        raise TooLargeError(f'{what}: {size:,} bytes is over the limit of {max_bytes:,} bytes',
                            'max_bytes', max_bytes)


async def _read_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """The whole body; 413 past ``max_bytes`` (its Content-Length first), 408 past ``timeout``."""
    declared = request.headers.get('content-length')
    if declared is not None and declared.isdigit():
        check_bytes(int(declared), max_bytes, 'the request body')
    chunks: List[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            check_bytes(size, max_bytes, 'the request body')
            chunks.append(chunk)
    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise ServeError(408, f'the upload took over {timeout:g} s (--read-timeout)') from None
    except ClientDisconnect:  # nobody is left to answer: not an error of the server's
        raise ServeError(CLIENT_GONE, 'the client disconnected during the upload') from None
    return b''.join(chunks)


class _Parts:
    """python-multipart's callbacks: each part's name and bytes, in memory."""

    def __init__(self) -> None:
        self.parts: List[Tuple[bytes, bytearray]] = []
        self._field, self._value = b'', b''

    def callbacks(self) -> dict:
        return {'on_part_begin': self._begin, 'on_part_data': self._data,
                'on_header_field': lambda d, s, e: setattr(self, '_field', self._field + d[s:e]),
                'on_header_value': lambda d, s, e: setattr(self, '_value', self._value + d[s:e]),
                'on_header_end': self._header_end}

    def _begin(self) -> None:
        if len(self.parts) >= MAX_FIELDS:
            raise ServeError(422, f'the form has over {MAX_FIELDS} fields')
        self.parts.append((b'', bytearray()))

    def _header_end(self) -> None:
        if self._field.lower() == b'content-disposition':
            name = parse_options_header(self._value)[1].get(b'name', b'')
            self.parts[-1] = (name, self.parts[-1][1])
        self._field, self._value = b'', b''

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1][1].extend(data[start:end])


def _parse_multipart(body: bytes, content_type: str) -> Upload:
    boundary = parse_options_header(content_type)[1].get(b'boundary')
    if not boundary:
        raise ServeError(422, 'a multipart/form-data body needs a boundary in its Content-Type')
    parts = _Parts()
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        parser.write(body)
        parser.finalize()
    except ServeError:
        raise
    except Exception as error:  # noqa: BLE001 - python-multipart's parse errors, for the client
        raise ServeError(422, f'the multipart body cannot be parsed ({one_line(error)})') from None
    upload = Upload()
    for name, value in parts.parts:
        text = name.decode('utf-8', 'replace')
        if text == FILE_FIELD:
            upload.data = bytes(value)
        elif len(value) > MAX_FIELD_BYTES:
            raise ServeError(422, f'form field {text!r} is over {MAX_FIELD_BYTES} bytes')
        else:
            upload.fields[text] = value.decode('utf-8', 'replace')
    if not upload.data:
        raise ServeError(422, f'the form has no image: send it in the field "{FILE_FIELD}" '
                              f'(curl -F {FILE_FIELD}=@photo.jpg)')
    return upload


async def read_upload(request: Request, max_bytes: int, timeout: float) -> Upload:
    """The request's image and form fields (see the module docstring)."""
    body = await _read_body(request, max_bytes, timeout)
    content_type = request.headers.get('content-type', '')
    if content_type.lower().startswith('multipart/form-data'):
        return _parse_multipart(body, content_type)
    # any other type is taken as the image itself (curl --data-binary sends it as a form):
    # the decoder decides, and says 415 when it is not an image
    if not body:
        raise ServeError(422, 'the request has no body: send an image')
    return Upload(data=body)
