"""The learning-rate schedule and the optimizer a config describes, built as PaddleSeg does.

Two config forms are read: ``lr_scheduler: {type: <paddle.optimizer.lr class>, ...}`` and
PaddleSeg's older ``learning_rate: {value, decay: {type: poly|piecewise|cosine|<class>, ...}}``.
``optimizer: {type: sgd|momentum|adam|adamw, ...}`` (sgd is Momentum with momentum 0.9 unless
set, as in PaddleSeg; ``momentum: 0`` gives plain SGD).
``config.schema`` checks the values' types without paddle when the config is read (from the
same ``OPTIMIZERS`` / ``DECAY_ALIASES`` tables); the ``build_*`` functions here check names
against paddle's classes and build.
"""
import inspect
import math
from typing import Any, Dict, Optional, Tuple, Union

from ..config.component_builder import closest_hint
from ..config.loading import ConfigError
from ..config.schema import DECAY_ALIASES, OPTIMIZERS, is_number
from .param_groups import GROUP_KEYS, parameter_groups

__all__ = ['build_lr_scheduler', 'build_optimizer']


def _hand_over_block_value(spec: Dict[str, Any], cls: type, type_name: str, value: Any,
                           path: str) -> None:
    """Give ``learning_rate.value`` to the decay ``spec`` (a dict of ``cls``'s arguments).

    A scheduler taking ``learning_rate`` (PolynomialDecay, CosineAnnealingDecay, ...) gets
    it unless ``learning_rate.decay`` sets it. PiecewiseDecay has no single base rate: its
    ``learning_rate.decay.values`` (one rate per interval) are required and must start at
    ``value``. Any other scheduler without a ``learning_rate`` argument is refused, since
    ``value`` would be ignored. Raises ConfigError naming the key.
    """
    if 'learning_rate' in inspect.signature(cls).parameters:
        spec.setdefault('learning_rate', value)
        return
    if type_name != 'PiecewiseDecay':
        raise ConfigError(f'{path}: "learning_rate.decay.type" {type_name} takes no '
                          f'learning_rate, so "learning_rate.value" cannot set its rate; write an '
                          f'"lr_scheduler" section with {type_name}\'s own arguments instead')
    values = spec.get('values')
    if not values or not isinstance(values, list):
        found = 'missing' if values is None else f'{values!r}'
        raise ConfigError(f'{path}: "learning_rate.decay" is piecewise but '
                          f'"learning_rate.decay.values" is {found}; expected a list of rates, one '
                          f'per interval (one more than "boundaries"), starting at '
                          f'learning_rate.value ({value!r})')
    first = values[0]
    if (not is_number(first) or not is_number(value)
            or not math.isclose(first, value, rel_tol=1e-9, abs_tol=0.0)):
        raise ConfigError(f'{path}: "learning_rate.value" ({value!r}) must equal the first of '
                          f'"learning_rate.decay.values" ({first!r}), the rate PiecewiseDecay '
                          f'starts at')


def _pop_warmup(spec: Dict[str, Any], where: str, path: str) -> Tuple[int, Optional[float]]:
    """Remove ``warmup_iters``/``warmup_start_lr`` from ``spec``; return them checked.

    Returns ``(warmup_iters, warmup_start_lr)``: an int >= 0 (0 without warmup) and a
    float (None when warmup_iters is 0).
    """
    has_iters = 'warmup_iters' in spec
    iters = spec.pop('warmup_iters', 0)
    start_lr = spec.pop('warmup_start_lr', None)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise ConfigError(f'{path}: "{where}.warmup_iters" must be an integer >= 0, got {iters!r}')
    if not has_iters and start_lr is not None:
        raise ConfigError(f'{path}: "{where}.warmup_start_lr" is set but "{where}.warmup_iters" '
                          f'is not; set both to warm up, or neither')
    if iters == 0:
        return 0, None
    if start_lr is None:
        raise ConfigError(f'{path}: "{where}.warmup_iters" is {iters} but "{where}.warmup_start_lr" '
                          f'is missing; set the rate the warmup starts from (e.g. 1.0e-5)')
    if not is_number(start_lr) or start_lr < 0:
        raise ConfigError(f'{path}: "{where}.warmup_start_lr" must be a number >= 0, '
                          f'got {start_lr!r}')
    return iters, float(start_lr)


def _scheduler_spec(dic: Dict[str, Any], path: str) -> Tuple[Optional[dict], str, Any]:
    """``(arguments with type, key path, learning_rate.value or None)`` of the config's
    schedule; arguments None for a constant ``learning_rate.value`` (``decay: null``).
    A ``learning_rate`` block without ``decay`` is PaddleSeg's default polynomial decay."""
    if dic.get('lr_scheduler'):
        return dict(dic['lr_scheduler']), 'lr_scheduler', None
    if not dic.get('learning_rate'):
        raise ConfigError(f'{path}: neither "lr_scheduler" nor "learning_rate" is set')
    block = dic['learning_rate']
    if 'value' not in block:
        raise ConfigError(f'{path}: key "learning_rate.value" is missing')
    if 'decay' not in block:
        # PaddleSeg (2.x Config.decay_args): a learning_rate block without 'decay' decays
        # polynomially, power 0.9, to 0 over the run; DIM's config relies on it
        return {'type': 'poly', 'power': 0.9}, 'learning_rate', block['value']
    decay = block['decay']
    if not decay:  # an explicit `decay: null` (or {}) keeps the rate constant
        return None, 'learning_rate', block['value']
    if not isinstance(decay, dict):
        raise ConfigError(f'{path}: key "learning_rate.decay" must be a mapping, '
                          f'got {type(decay).__name__}')
    return dict(decay), 'learning_rate.decay', block['value']


def build_lr_scheduler(cfg: Any) -> Union[float, Any]:
    """A ``paddle.optimizer.lr.LRScheduler`` for ``cfg``, or a float for a constant rate.

    ``cfg`` gives ``dic``, ``path`` and ``iters`` (a ``Config``). ``type`` names a
    ``paddle.optimizer.lr`` class (``poly``/``piecewise``/``cosine`` also accepted in
    ``learning_rate.decay``, whose ``learning_rate.value`` is handed over as PaddleSeg does);
    the other keys are its arguments, except ``warmup_iters`` (int >= 0) and
    ``warmup_start_lr`` (float, required with warmup_iters): with ``warmup_iters > 0`` the
    result is a ``LinearWarmup`` rising linearly from ``warmup_start_lr`` at step 0 to the
    wrapped scheduler's starting rate at step ``warmup_iters``, after which the wrapped
    scheduler runs from its step 0. PolynomialDecay's ``decay_steps`` and
    CosineAnnealingDecay's ``T_max`` default to the steps left after warmup,
    ``iters - warmup_iters`` (at least 1).
    """
    import paddle
    spec, where, block_value = _scheduler_spec(cfg.dic, cfg.path)
    if spec is None:
        return float(block_value)
    type_name = spec.pop('type', None)
    if type_name is None:
        raise ConfigError(f'{cfg.path}: key "{where}.type" is missing')
    type_name = DECAY_ALIASES.get(type_name, type_name)
    cls = getattr(paddle.optimizer.lr, type_name, None)
    if cls is None or not inspect.isclass(cls):
        known = sorted(n for n in dir(paddle.optimizer.lr) if n.endswith('Decay') or n.endswith('LR'))
        raise ConfigError(f'{cfg.path}: "{where}.type" is "{type_name}", not a paddle.optimizer.lr '
                          f'scheduler{closest_hint(type_name, known)}; known: {", ".join(known)}')
    if block_value is not None:
        _hand_over_block_value(spec, cls, type_name, block_value, cfg.path)
    warmup_iters, warmup_start_lr = _pop_warmup(spec, where, cfg.path)
    # PaddleSeg's conventions: decay over the whole run (after warmup) unless told otherwise
    if type_name == 'PolynomialDecay':
        spec.setdefault('decay_steps', max(cfg.iters - warmup_iters, 1))
        spec.setdefault('end_lr', 0.0)
        spec.setdefault('power', 0.9)
    if type_name == 'CosineAnnealingDecay':
        spec.setdefault('T_max', max(cfg.iters - warmup_iters, 1))
    try:
        scheduler = cls(**spec)
    except TypeError as e:
        raise ConfigError(f'{cfg.path}: cannot build "{where}" ({type_name}): {e}') from e
    if warmup_iters == 0:
        return scheduler
    base_lr = float(scheduler.last_lr)  # the wrapped scheduler's rate at its step 0
    if not warmup_start_lr < base_lr:
        raise ConfigError(f'{cfg.path}: "{where}.warmup_start_lr" ({warmup_start_lr}) must be below '
                          f'the rate the warmup rises to: the starting rate of {type_name}, {base_lr}')
    return paddle.optimizer.lr.LinearWarmup(learning_rate=scheduler, warmup_steps=warmup_iters,
                                            start_lr=warmup_start_lr, end_lr=base_lr)


def _grouped(parameters: Any, spec: Dict[str, Any], path: str) -> Any:
    """``parameters`` as the optimizer takes them: a model's parameter groups when the
    section has ``layer_decay`` / ``no_weight_decay`` (popped from ``spec``; see
    ``builders.param_groups``), else the parameters as given."""
    import paddle.nn as nn
    layer_decay = spec.pop('layer_decay', None)
    no_weight_decay = spec.pop('no_weight_decay', None) or []
    if isinstance(parameters, nn.Layer):
        if layer_decay is None and not no_weight_decay:
            return parameters.parameters()
        return parameter_groups(parameters, layer_decay, no_weight_decay,
                                spec.get('weight_decay'))
    if layer_decay is not None or no_weight_decay:
        raise ConfigError(f'{path}: "optimizer.{GROUP_KEYS[0]}" / "optimizer.{GROUP_KEYS[1]}" '
                          f'need the model (its parameter names), not a list of parameters')
    return parameters


def build_optimizer(cfg: Any, parameters: Any, learning_rate: Any):
    """The paddle optimizer of ``cfg.dic['optimizer']`` (default sgd) over ``parameters``.

    ``parameters``: a model (its parameters, grouped when the section has ``layer_decay``
    or ``no_weight_decay``: ``builders.param_groups``) or a list of parameters.
    ``learning_rate``: a float or an LRScheduler (see :func:`build_lr_scheduler`).
    Raises ConfigError naming ``optimizer`` when the type or an argument is wrong.
    """
    import paddle
    spec = dict(cfg.dic.get('optimizer') or {'type': 'sgd'})
    parameters = _grouped(parameters, spec, cfg.path)
    type_name = str(spec.pop('type', 'sgd')).lower()
    if type_name not in OPTIMIZERS:
        raise ConfigError(f'{cfg.path}: "optimizer.type" is "{type_name}"; expected one of '
                          f'{", ".join(sorted(OPTIMIZERS))}')
    if type_name == 'sgd':
        # PaddleSeg's sgd is Momentum, momentum 0.9 unless set; an explicit 0 is plain SGD
        spec.setdefault('momentum', 0.9)
        if spec['momentum']:
            type_name = 'momentum'
        else:
            spec.pop('momentum')
    cls = getattr(paddle.optimizer, OPTIMIZERS[type_name])
    try:
        return cls(learning_rate=learning_rate, parameters=parameters, **spec)
    except TypeError as e:
        raise ConfigError(f'{cfg.path}: cannot build "optimizer" ({cls.__name__}): {e}') from e
