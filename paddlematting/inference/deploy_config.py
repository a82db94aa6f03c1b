"""deploy.yaml: what an exported folder holds and how its inputs must be prepared.

The layout keeps PaddleSeg Matting's top-level ``Deploy`` mapping (``model``,
``params``, ``transforms``) so folders exported by either tool load here; we add
``input_names`` (``[img]`` or ``[img, trimap]``), ``model_type``, after an ONNX export
``onnx`` (and ``onnx_int8`` after ``--quantize int8``), ``cpu_engine`` with ``engine_ms``
(which engine ran the model fastest on the exporting machine's CPU, and the median
milliseconds each took; see ``engine_choice``), and for a recurrent model (RVM)
``state_names`` / ``state_channels`` (the extra state inputs, which the program also
returns, last) and ``output_names``.
"""
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import yaml

DEPLOY_FILE = 'deploy.yaml'
# the engines a deploy.yaml may name as cpu_engine (``engines.ENGINES``, which imports this)
ENGINE_NAMES = ('paddle_inference', 'onnxruntime', 'openvino')


def default_inference_transforms() -> List[dict]:
    """The transforms used when a config or deploy.yaml names none: ``[{'type': 'Normalize'}]``
    (a new list each call, so callers may change it)."""
    return [{'type': 'Normalize'}]


@dataclass
class DeployConfig:
    """The contents of one exported folder's deploy.yaml.

    File names are relative to ``folder``; ``transforms`` is the raw list of
    ``{'type': name, **args}`` dicts of the validation pipeline.
    """
    folder: str
    model_file: str
    params_file: str
    transforms: List[dict]
    input_names: List[str] = field(default_factory=lambda: ['img'])
    model_type: Optional[str] = None
    onnx_file: Optional[str] = None
    # recurrent models only: state inputs (in order; fed after input_names, returned last)
    state_names: List[str] = field(default_factory=list)
    state_channels: List[int] = field(default_factory=list)
    output_names: List[str] = field(default_factory=list)
    int8_onnx_file: Optional[str] = None
    cpu_engine: Optional[str] = None
    engine_ms: Dict[str, float] = field(default_factory=dict)

    @property
    def needs_trimap(self) -> bool:
        return 'trimap' in self.input_names

    @property
    def model_path(self) -> str:
        return os.path.join(self.folder, self.model_file)

    @property
    def params_path(self) -> str:
        return os.path.join(self.folder, self.params_file)

    @property
    def onnx_path(self) -> Optional[str]:
        return os.path.join(self.folder, self.onnx_file) if self.onnx_file else None

    @property
    def int8_onnx_path(self) -> Optional[str]:
        return os.path.join(self.folder, self.int8_onnx_file) if self.int8_onnx_file else None

    def to_dict(self) -> dict:
        deploy = {'model': self.model_file, 'params': self.params_file,
                  'transforms': list(self.transforms), 'input_names': list(self.input_names)}
        if self.model_type:
            deploy['model_type'] = self.model_type
        if self.onnx_file:
            deploy['onnx'] = self.onnx_file
        if self.state_names:
            deploy['state_names'] = list(self.state_names)
            deploy['state_channels'] = [int(c) for c in self.state_channels]
            deploy['output_names'] = list(self.output_names)
        if self.int8_onnx_file:
            deploy['onnx_int8'] = self.int8_onnx_file
        if self.cpu_engine:
            deploy['cpu_engine'] = self.cpu_engine
            deploy['engine_ms'] = {k: round(float(v), 2) for k, v in self.engine_ms.items()}
        return {'Deploy': deploy}


def write_deploy_config(config: DeployConfig) -> str:
    """Write ``config`` as ``<config.folder>/deploy.yaml``; return that path."""
    path = os.path.join(config.folder, DEPLOY_FILE)
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(config.to_dict(), f, sort_keys=False)
    return path


def load_deploy_config(folder: str) -> DeployConfig:
    """Read ``<folder>/deploy.yaml`` and check that the files it names exist."""
    path = os.path.join(folder, DEPLOY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: expected a folder written by export.py '
                                '(model files plus deploy.yaml).')
    with open(path, 'r', encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:  # not a ValueError: name the file and make it one
            raise ValueError(f'{path}: invalid YAML ({" ".join(str(e).split())})') from e
    deploy = data.get('Deploy') if isinstance(data, dict) else None
    if not isinstance(deploy, dict):
        raise ValueError(f'{path} has no top-level "Deploy" mapping.')
    for key in ('model', 'params'):
        if not isinstance(deploy.get(key), str):
            raise ValueError(f'{path}: Deploy.{key} must name a file in {folder}.')
    transforms = deploy.get('transforms') or default_inference_transforms()
    if not all(isinstance(t, dict) and 'type' in t for t in transforms):
        raise ValueError(f'{path}: Deploy.transforms must be a list of mappings with a "type" key.')
    config = DeployConfig(folder=folder, model_file=deploy['model'], params_file=deploy['params'],
                          transforms=transforms,
                          input_names=list(deploy.get('input_names') or ['img']),
                          model_type=deploy.get('model_type'), onnx_file=deploy.get('onnx'),
                          state_names=list(deploy.get('state_names') or []),
                          state_channels=[int(c) for c in deploy.get('state_channels') or []],
                          output_names=list(deploy.get('output_names') or []),
                          int8_onnx_file=deploy.get('onnx_int8'),
                          cpu_engine=deploy.get('cpu_engine'),
                          engine_ms=dict(deploy.get('engine_ms') or {}))
    if len(config.state_channels) != len(config.state_names):
        raise ValueError(f'{path}: Deploy.state_channels must give one channel count per entry of '
                         f'Deploy.state_names {config.state_names}.')
    if config.cpu_engine is not None and config.cpu_engine not in ENGINE_NAMES:
        raise ValueError(f"{path}: Deploy.cpu_engine is {config.cpu_engine!r}; expected one "
                         f"of {list(ENGINE_NAMES)}.")
    for file_path in (config.model_path, config.params_path, config.onnx_path, config.int8_onnx_path):
        if file_path is None:
            continue
        if not os.path.isfile(file_path):
            raise FileNotFoundError(f'{path} names {file_path}, which does not exist.')
    return config
