"""OpenVINO, the third CPU engine, on the folder's ``model.onnx``.

OpenVINO compiles the graph for the CPU it runs on (its own conv + eltwise fusions, blocked
layouts kept end to end), one stream and ``threads`` threads, latency first: one image at a
time is what predict.py and the server ask of it. It takes the same feeds as the other
engines and returns the outputs in the program's order (recurrent states last).
"""
from typing import Dict, List

import numpy as np

OPENVINO = 'openvino'

__all__ = ['OPENVINO', 'openvino_config', 'OpenVinoEngine']

_HINTS = {'fp32': 'f32', 'bf16': 'bf16'}


def openvino_config(threads: int, precision: str = 'fp32') -> Dict[str, object]:
    """The compile options the openvino engine uses (benchmarks reuse them, so they time what
    users run): ``threads`` inference threads, one stream, latency hint, ``precision``'s
    ``INFERENCE_PRECISION_HINT`` ('fp32' or 'bf16')."""
    return {'INFERENCE_NUM_THREADS': int(threads), 'NUM_STREAMS': 1,
            'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': _HINTS[precision]}


class OpenVinoEngine:
    """OpenVINO's CPU plugin on ``model_path`` (an .onnx file).

    Args:
        model_path: the model file.
        threads: inference threads.
        precision: 'fp32' or 'bf16'; bf16 is refused (one line) where OpenVINO would compile
            in f32 instead (it does so silently on CPUs without bf16 instructions).
    """
    name = OPENVINO

    def __init__(self, model_path: str, threads: int, precision: str = 'fp32'):
        try:
            import openvino as ov
        except ImportError as error:
            raise ImportError('The openvino backend needs OpenVINO: `pip install -e .[openvino]`.') \
                from error
        from .engines import ExportedModelUnreadableError
        if precision not in _HINTS:
            raise ValueError(f"the openvino engine runs 'fp32' or 'bf16', not {precision!r}.")
        core = ov.Core()
        try:
            model = core.read_model(model_path)
            compiled = core.compile_model(model, 'CPU', openvino_config(threads, precision))
        except Exception as error:  # noqa: BLE001 - OpenVINO's C++ errors: one line for the user
            raise ExportedModelUnreadableError(model_path, error) from error
        got = compiled.get_property('INFERENCE_PRECISION_HINT').get_type_name()  # 'f32', 'bf16'
        if precision == 'bf16' and got != 'bf16':
            raise ValueError(f'OpenVINO compiled {model_path} in {got}, not bf16, on this CPU: '
                             f'use --precision fp32.')
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        # the names of the model as read: compiling may rename an input (a precision
        # conversion put in front of it), the order of the ports stays
        self.input_names: List[str] = [port.get_any_name() for port in model.inputs]
        self._port = {name: i for i, name in enumerate(self.input_names)}

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        # share_outputs=False (the default) copies: the request reuses its buffers next call,
        # and a recurrent state fed back in must not alias them
        results = self._request.infer({self._port[k]: np.ascontiguousarray(v, dtype=np.float32)
                                       for k, v in feeds.items()})
        return [results[port] for port in self._compiled.outputs]
