"""Fast inference: export a model to a static program and run it with Paddle Inference.

Needs nothing from ``paddlematting.core``; the dygraph predictor there shares
``prepare_sample`` / ``finish_alpha`` / ``predict_alpha`` from ``paddlematting.transforms.pipeline``.
"""
from .deploy_config import DeployConfig, load_deploy_config, write_deploy_config
from ..models.alpha_model import AlphaOnlyModel
from ..transforms.pipeline import build_transforms, finish_alpha, predict_alpha, prepare_sample
from .export import export_checkpoint_cached, export_model, export_onnx
from .predictor import Predictor, gpu_available

__all__ = ['DeployConfig', 'load_deploy_config', 'write_deploy_config', 'AlphaOnlyModel',
           'export_checkpoint_cached', 'export_model', 'export_onnx', 'build_transforms',
           'finish_alpha', 'predict_alpha', 'prepare_sample', 'Predictor', 'gpu_available']
