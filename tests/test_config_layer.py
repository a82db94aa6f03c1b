"""config/ is a layer of its own, at the bottom: it imports nothing else of the package (not
even by a module name in a string), works without paddle, and what it no longer does (build)
is said where a user looks for it; the old import paths are the same objects."""
import ast
import os
import re
import subprocess
import sys
import warnings

import paddle
import pytest

from conftest import NO_DOWNLOAD, REPO_ROOT, write_yaml
from paddlematting import Config
from paddlematting.builders import Built
from paddlematting.config import manager

CONFIG_DIR = os.path.join(REPO_ROOT, 'paddlematting', 'config')


def _config_modules():
    for name in sorted(os.listdir(CONFIG_DIR)):
        if name.endswith('.py'):
            with open(os.path.join(CONFIG_DIR, name), encoding='utf-8') as f:
                yield name, ast.parse(f.read())


@pytest.mark.parametrize('name, tree', list(_config_modules()), ids=lambda v: v if isinstance(v, str) else '')
def test_config_imports_nothing_of_the_package_above_it(name, tree):
    """Neither an import (relative ones stay inside config/) nor a module named in a string
    (``importlib.import_module('paddlematting.models')``) reaches another layer."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level in (0, 1) and (node.level == 1 or not (node.module or '').startswith(
                'paddlematting')), f'{name}:{node.lineno} imports {"." * node.level}{node.module}'
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith('paddlematting') for a in node.names), name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = re.fullmatch(r'paddlematting(\.\w+)+', node.value)
            assert not named or node.value.startswith('paddlematting.config'), \
                f'{name}:{node.lineno} names the module {node.value!r}'


def test_config_works_without_paddle():
    code = """
import sys
class _NoPaddle:
    def find_spec(self, name, path=None, target=None):
        if name == 'paddle' or name.startswith('paddle.'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, _NoPaddle())
import paddlematting.config
from paddlematting import Config
cfg = Config(sys.argv[1], opts=['iters=5', 'model.backbone.pretrained=null'])
assert cfg.iters == 5 and cfg.model_config['type'] == 'PPMatting' and cfg.best_metric == 'sad'
assert not [m for m in sys.modules if m == 'paddle' or m.startswith('paddle.')]
assert not [m for m in sys.modules if m.startswith(('paddlematting.models', 'paddlematting.builders'))]
print('ok')
"""
    config = os.path.join(REPO_ROOT, 'configs', 'ppmatting', 'ppmatting-hrnet_w18-human_512.yml')
    out = subprocess.run([sys.executable, '-c', code, config], capture_output=True, text=True,
                         timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr[-2000:]


@pytest.mark.parametrize('part', ['model', 'train_dataset', 'val_dataset', 'val_transforms',
                                  'lr_scheduler', 'optimizer'])
def test_the_parts_config_once_built_point_to_built(part):
    cfg = Config(os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml'))
    with pytest.raises(AttributeError, match=rf'Built\(cfg\)\.{part}'):
        getattr(cfg, part)
    with pytest.raises(AttributeError, match='no attribute'):
        cfg.no_such_thing  # noqa: B018


def test_built_builds_each_part_once_and_the_optimizer_over_its_model(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {
        'iters': 10, 'model': {'type': 'MODNet', 'backbone': {'type': 'MobileNetV2'}},
        'optimizer': {'type': 'adam'}, 'learning_rate': {'value': 0.01}})
    built = Built(Config(path, opts=NO_DOWNLOAD))
    assert built.model is built.model and built.lr_scheduler is built.lr_scheduler
    assert isinstance(built.optimizer, paddle.optimizer.Adam)
    params = {id(p) for p in built.model.parameters()}
    assert {id(p) for p in built.optimizer._parameter_list} == params
    assert built.optimizer._learning_rate is built.lr_scheduler
    with pytest.raises(TypeError, match='Config'):
        Built({'model': {}})


def test_the_old_import_paths_are_the_same_modules():
    import paddlematting.utils
    for name in ('manager', 'config'):  # imported afresh, so that they warn again
        sys.modules.pop(f'paddlematting.utils.{name}', None)
        vars(paddlematting.utils).pop(name, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        from paddlematting.utils import config as old_config
        from paddlematting.utils import manager as old_manager
    import paddlematting.config
    assert old_manager is manager and old_manager.MODELS is manager.MODELS
    assert old_config is paddlematting.config and old_config.Config is Config
    moved = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any('paddlematting.config.manager' in m for m in moved)
    assert any('`from paddlematting import Config`' in m for m in moved)


def test_a_registry_imports_the_modules_it_is_filled_by(tmp_path, monkeypatch):
    registry = manager.ComponentManager('things')
    monkeypatch.setattr(manager, 'TEST_THINGS', registry, raising=False)
    (tmp_path / 'thing_module_17.py').write_text(
        'from paddlematting.config import manager\n\n\n'
        '@manager.TEST_THINGS.add_component\nclass Thing:\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry.filled_by('thing_module_17')
        assert 'thing_module_17' not in sys.modules  # declared, not imported yet
        assert registry['Thing'].__module__ == 'thing_module_17'  # the first lookup imports it
    finally:
        sys.modules.pop('thing_module_17', None)
    # the package's own fillers are declared by its root, not by config/
    assert manager.MODELS._modules == ('paddlematting.models',)
    assert manager.DATASETS._modules == ('paddlematting.datasets.matting_dataset',
                                         'paddlematting.datasets.benchmark_sets',
                                         'paddlematting.datasets.dis5k')
