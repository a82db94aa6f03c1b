"""The training engine: the training loop (rank-0 logging, evaluation and checkpoints), the
evaluation loop, checkpoints and what they need (sample order, sample errors, worker guard,
runtime, VisualDL log). The user-facing prediction app is ``paddlematting.predict``."""
from .evaluator import EvalOptions, EvalResult, evaluate
from .trainer import Trainer, TrainOptions, TrainOutcome

__all__ = ['Trainer', 'TrainOptions', 'TrainOutcome', 'evaluate', 'EvalOptions', 'EvalResult']
