"""The user-facing prediction app: one image in memory (``predict_image``: arrays out), or
the images and videos of a folder or list (``predict_images``: files out), with the mattes,
cut-outs and composites made and named by ``pipeline.outputs``.

>>> from paddlematting.predict import predict_image                        # doctest: +SKIP
>>> out = predict_image(inference.Predictor('output/export'), rgb_uint8)   # doctest: +SKIP
>>> out.alpha, out.rgba                                                    # doctest: +SKIP
"""
from ..pipeline.outputs import MatteOutputs, OutputOptions, OutputPaths, save_outputs
from .images import PredictResult, predict_image, predict_images
from .input_collection import InputImage, collect_inputs
from .options import PredictOptions
from .videos import predict_video

__all__ = ['predict_image', 'predict_images', 'predict_video', 'PredictOptions', 'PredictResult',
           'OutputOptions', 'MatteOutputs', 'OutputPaths', 'save_outputs', 'InputImage',
           'collect_inputs']
