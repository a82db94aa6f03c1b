"""``paddlematting serve``: the one-call API over HTTP, with a web page (see docs/ARCHITECTURE.md).

settings (ServeSettings: the flags), params (a request's options, rembg's names), uploads
(bodies read into memory, bounded), url_fetch (GET ?url=, SSRF-guarded), chain (the models
of a worker, loaded once; one cut-out through ``api.Matting``), admission (the bounded
queue), worker (the inference thread), metrics (Prometheus), errors (JSON 4xx), routes, app.
Needs the ``serve`` extra (fastapi, uvicorn, python-multipart, prometheus-client).
"""
