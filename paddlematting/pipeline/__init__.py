"""The prediction pipeline shared by evaluation, prediction and Paddle Inference:
prepare one image (the val transforms), run any runner on it, restore the alpha to the
original size (``prediction``); the dygraph runner (``runner``); what is made from a matte
and how it is written (``outputs``). Below ``engine``, ``predict`` and ``inference``, so none
of them imports another.
"""
from .prediction import Runner, finish_alpha, predict_alpha, prepare_sample

__all__ = ['Runner', 'finish_alpha', 'predict_alpha', 'prepare_sample']
