"""Fast inference: export a model to a static program and run it with Paddle Inference.

Needs nothing from ``paddlematting.engine`` or ``paddlematting.predict``; they share
``prepare_sample`` / ``finish_alpha`` / ``predict_alpha`` from ``paddlematting.pipeline``
(import them from there).
"""
from .deploy_config import DeployConfig, default_inference_transforms, load_deploy_config, write_deploy_config
from .export import ExportOptions, export_checkpoint_cached, export_model, export_onnx
from .predictor import Predictor

__all__ = ['DeployConfig', 'default_inference_transforms', 'load_deploy_config', 'write_deploy_config',
           'ExportOptions', 'export_checkpoint_cached', 'export_model', 'export_onnx', 'Predictor']
