"""The prediction pipeline shared by evaluation, prediction and Paddle Inference:
prepare one image (the val transforms), run any runner on it, restore the alpha to the
original size. Below both ``core`` and ``inference``, so neither imports the other.
"""
from .prediction import Runner, finish_alpha, predict_alpha, prepare_sample

__all__ = ['Runner', 'finish_alpha', 'predict_alpha', 'prepare_sample']
