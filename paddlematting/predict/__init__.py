"""The user-facing prediction app: one image in memory (``predict_image``: arrays out), or
the images and videos of a folder or list (``predict_images``: files out), with the mattes,
cut-outs and composites made and named by ``pipeline.outputs``; and the refine chain
(``auto_trimap``: a soft mask -> a trimap, ``refine``: a trimap-based refiner on the unknown
band in tiles at full resolution, ``loaded_model``: a model loaded once for the one-call API).

>>> from paddlematting.predict import predict_image                        # doctest: +SKIP
>>> out = predict_image(inference.Predictor('output/export'), rgb_uint8)   # doctest: +SKIP
>>> out.alpha, out.rgba                                                    # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``predict.auto_trimap`` and
``predict.refine`` (numpy/OpenCV only) load no paddle.
"""
import importlib
from typing import Any

# public name -> the module defining it
_EXPORTS = {
    'MatteOutputs': '..pipeline.outputs', 'OutputOptions': '..pipeline.outputs',
    'OutputPaths': '..pipeline.outputs', 'save_outputs': '..pipeline.outputs',
    'PredictResult': '.images', 'predict_image': '.images', 'predict_images': '.images',
    'InputImage': '.input_collection', 'collect_inputs': '.input_collection',
    'PredictOptions': '.options', 'predict_video': '.videos',
}

__all__ = ['predict_image', 'predict_images', 'predict_video', 'PredictOptions', 'PredictResult',
           'OutputOptions', 'MatteOutputs', 'OutputPaths', 'save_outputs', 'InputImage',
           'collect_inputs']


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
