"""Prediction beyond one model run: the refine chain (soft mask -> automatic trimap ->
trimap-based refiner at full resolution).

``auto_trimap`` (numpy/OpenCV only) turns a soft mask into a trimap; ``refine`` runs a
trimap-based model or classical solver on the unknown band, tile by tile, so memory follows
the band rather than the photo. Importing this package loads no paddle.
"""
