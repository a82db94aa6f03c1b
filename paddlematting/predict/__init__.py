"""The user-facing prediction app: find the inputs, predict images and videos, write the
mattes, cut-outs and composites (``pipeline.outputs``)."""
from .images import PredictResult, predict_images
from .input_collection import InputImage, collect_inputs
from .videos import predict_video

__all__ = ['PredictResult', 'predict_images', 'InputImage', 'collect_inputs', 'predict_video']
