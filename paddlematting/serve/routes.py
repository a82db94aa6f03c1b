"""The HTTP endpoints: ``POST /api/remove``, ``GET /api/remove?url=``, ``GET /health``,
``GET /metrics``, the page at ``/`` (``static/``) and FastAPI's OpenAPI docs (``/docs``)."""
import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from .errors import ServeError
from .metrics import CONTENT_TYPE_LATEST
from .params import RemoveParams, parameter_docs
from .uploads import FILE_FIELD, read_upload
from .url_fetch import fetch_image

__all__ = ['router', 'STATIC_DIR', 'ENDPOINTS']

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
ENDPOINTS = ('/', '/api/remove', '/health', '/metrics', '/docs', '/openapi.json')
_PNG = {'content': {'image/png': {}}, 'description': 'the cut-out (RGBA), the matte (gray) or the composite (RGB)'}
_ERRORS = {str(code): {'description': text, 'content': {'application/json': {}}} for code, text in (
    (403, 'url: not a public address'), (408, 'the upload or fetch took too long'),
    (413, 'over --max-bytes or --max-pixels (the limit is named)'), (415, 'not an image'),
    (422, 'a bad parameter, an unknown model, a truncated image'),
    (503, 'the queue is full: retry after Retry-After seconds'))}
_BODY = {'required': True, 'content': {
    'multipart/form-data': {'schema': {'type': 'object', 'required': [FILE_FIELD], 'properties': {
        FILE_FIELD: {'type': 'string', 'format': 'binary', 'description': 'the photo (rembg\'s field)'}},
        'description': 'the options may come as further form fields, or in the query string'}},
    'application/octet-stream': {'schema': {'type': 'string', 'format': 'binary'}},
    'image/*': {'schema': {'type': 'string', 'format': 'binary'}}}}
_URL = {'name': 'url', 'in': 'query', 'required': True, 'schema': {'type': 'string'},
        'description': 'an http(s) image URL on a public address (needs --allow-url)'}

router = APIRouter()


def _params(query, fields=None, skip=()) -> RemoveParams:
    values = {k: v for k, v in query.items() if k not in skip}
    values.update(fields or {})
    return RemoveParams.model_validate(values)


@router.post('/api/remove', summary='Remove the background of an uploaded image',
             responses={200: _PNG, **_ERRORS}, response_class=Response,
             openapi_extra={'parameters': parameter_docs(), 'requestBody': _BODY})
async def post_remove(request: Request) -> Response:
    """The image as a multipart form (field ``file``) or as the raw body; returns a PNG at its size."""
    worker = request.app.state.worker
    with worker.queue.slot():  # before the body: the slot bounds what is held in memory
        upload = await read_upload(request, worker.settings.max_bytes, worker.settings.read_timeout)
        choice = worker.models.choose(_params(request.query_params, upload.fields))
        return await worker.cut_out(request, upload.data, choice)


@router.get('/api/remove', summary='Remove the background of an image fetched from a URL',
            responses={200: _PNG, **_ERRORS}, response_class=Response,
            openapi_extra={'parameters': [_URL] + parameter_docs()})
async def get_remove(request: Request) -> Response:
    """Off unless the server runs with --allow-url; public addresses only (see url_fetch)."""
    worker = request.app.state.worker
    if not worker.settings.allow_url:
        raise ServeError(403, 'GET /api/remove?url= is off on this server (start it with '
                              '--allow-url); POST the image instead')
    url = request.query_params.get('url')
    if not url:
        raise ServeError(422, 'url: missing; GET /api/remove?url=https://... or POST the image')
    with worker.queue.slot():
        choice = worker.models.choose(_params(request.query_params, skip=('url',)))
        settings = worker.settings
        data = await worker.run_blocking(fetch_image, url, settings.max_bytes, settings.read_timeout)
        return await worker.cut_out(request, data, choice)


@router.get('/health', summary='Liveness, the models served and the queue')
async def health(request: Request) -> dict:
    worker = request.app.state.worker
    return {'status': 'ok', 'models': list(worker.models.segmenters),
            'default_model': worker.models.default_model, 'refiners': list(worker.models.refiners),
            'default_refiner': worker.settings.refiner_default,
            'queue': {'depth': worker.queue.depth, 'capacity': worker.queue.capacity},
            'limits': {'max_pixels': worker.settings.max_pixels, 'max_bytes': worker.settings.max_bytes}}


@router.get('/metrics', summary='Prometheus metrics of this worker', response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(request.app.state.worker.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get('/', include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(os.path.join(STATIC_DIR, 'index.html'))
