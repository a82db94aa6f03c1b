"""The ``>>>`` examples in the public functions of metrics/, datasets/trimap.py and
foreground/ (and pipeline/outputs.py) run and give what they show."""
import doctest
import importlib

import pytest

MODULES = ['paddlematting.metrics', 'paddlematting.metrics.base', 'paddlematting.metrics.sad',
           'paddlematting.metrics.mse', 'paddlematting.metrics.grad', 'paddlematting.metrics.conn',
           'paddlematting.datasets.trimap', 'paddlematting.foreground',
           'paddlematting.foreground.blur_fusion', 'paddlematting.foreground.multilevel',
           'paddlematting.pipeline.outputs', 'paddlematting.utils.pixel_limit',
           'paddlematting.utils.cpu_threads']
# where every public function must show an example (the others show some; pixel_limit's are in
# its module docstring)
EXAMPLES_REQUIRED = [name for name in MODULES
                     if name not in ('paddlematting.pipeline.outputs', 'paddlematting.utils.pixel_limit',
                                     'paddlematting.utils.cpu_threads')]


@pytest.mark.parametrize('name', MODULES)
def test_the_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.attempted > 0, f'{name} has no >>> examples'
    assert result.failed == 0, f'{result.failed} of the examples in {name} failed (run ' \
                               f'python -m doctest -v on it to see which)'


def _has_example(obj) -> bool:
    if '>>>' in (obj.__doc__ or ''):
        return True
    # a class may show its use on a method (RunningMeanMetric.update)
    return isinstance(obj, type) and any('>>>' in (getattr(member, '__doc__', None) or '')
                                         for member in vars(obj).values())


def test_every_public_function_there_has_an_example():
    """The public functions and metric classes of these modules each carry a ``>>>`` example."""
    missing = [f'{name}.{attr}' for name in EXAMPLES_REQUIRED
               for attr, value in vars(importlib.import_module(name)).items()
               if not attr.startswith('_') and callable(value)
               and getattr(value, '__module__', None) == name and not _has_example(value)]
    assert missing == []
