"""The loops: training (rank-0 logging, evaluation and checkpoints), evaluation, prediction."""
from .evaluator import EvalResult, evaluate
from .input_collection import collect_inputs
from .predictor import PredictResult, predict_images
from .runner import dygraph_runner, predict_batch
from .trainer import Trainer, TrainOptions, TrainOutcome

__all__ = ['Trainer', 'TrainOptions', 'TrainOutcome', 'evaluate', 'EvalResult',
           'predict_images', 'collect_inputs', 'PredictResult', 'dygraph_runner',
           'predict_batch']
