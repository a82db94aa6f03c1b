"""The model zoo file: every entry complete and buildable, names resolved (closest names
suggested), $PADDLEMATTING_ZOO overrides, README's table generated from the file."""
import os
import subprocess
import sys

import pytest

from paddlematting import zoo
from paddlematting.zoo import UnknownModelError, ZooFileError, load_zoo, resolve_model

from conftest import REPO_ROOT, write_yaml

README_START = '<!-- zoo-table:start (generated: paddlematting models --markdown) -->'
README_END = '<!-- zoo-table:end -->'


@pytest.fixture
def shipped_only(monkeypatch):
    monkeypatch.delenv(zoo.ZOO_ENV, raising=False)
    return load_zoo()


def test_every_entry_is_complete(shipped_only):
    names = shipped_only.names()
    for wanted in ('modnet-mobilenetv2', 'modnet-resnet50_vd', 'modnet-hrnet_w18', 'dim-vgg16',
                   'ppmatting-hrnet_w18-human-512', 'ppmatting-hrnet_w48-composition',
                   'ppmatting-hrnet_w48-distinctions', 'ppmattingv2-stdc1-human-512',
                   'pphumanmatting', 'rvm-mobilenetv3', 'gca', 'birefnet', 'birefnet-lite',
                   'vitmatte-small-composition-1k', 'vitmatte-base-composition-1k', 'closed-form'):
        assert wanted in names
    for entry in shipped_only.entries.values():
        assert entry.task in zoo.TASKS and entry.licence and entry.commercial and entry.input_size
        if entry.weights is not None:
            assert entry.weights.startswith('https://')  # published files: never plain http
        assert entry.figures is None or 'benchmark' in entry.figures
    assert shipped_only.default('model').task == 'any-object'
    assert shipped_only.default('refiner').needs_trimap


def test_every_config_path_exists(shipped_only):
    missing = {e.name: e.config for e in shipped_only.entries.values() if not os.path.isfile(e.config)}
    assert missing == {}


@pytest.mark.parametrize('name', sorted(load_zoo().names()))
def test_entry_config_declares_its_task(name, monkeypatch):
    """The config builds the right kind of model: a trimap input exactly for 'trimap' entries,
    a recurrent one exactly for 'video' entries."""
    from paddlematting.builders.model import model_class
    from paddlematting.models.traits import model_traits
    from paddlematting.config import Config
    monkeypatch.delenv(zoo.ZOO_ENV, raising=False)
    entry = load_zoo().get(name)
    traits = model_traits(model_class(Config(entry.config)))
    assert ('trimap' in traits.input_names) == entry.needs_trimap
    assert traits.recurrent == (entry.task == 'video')


def test_names_resolve_case_and_aliases(shipped_only):
    assert shipped_only.get('PPHumanMatting').name == 'pphumanmatting'
    assert shipped_only.get('human_matting-resnet34_vd').name == 'pphumanmatting'
    assert shipped_only.get(' closeform ').name == 'closed-form'
    choice = resolve_model('modnet-mobilenetv2', zoo=shipped_only)
    assert choice.weights == 'https://paddleseg.bj.bcebos.com/matting/models/modnet-mobilenetv2.pdparams'
    assert choice.config == os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')


def test_unknown_name_suggests_the_closest(shipped_only):
    with pytest.raises(UnknownModelError) as caught:
        shipped_only.get('modnet-mobilenet')
    message = str(caught.value)
    assert '\n' not in message and 'modnet-mobilenetv2' in message.split('did you mean')[1]
    with pytest.raises(UnknownModelError, match='vitmatte-small-composition-1k'):
        shipped_only.get('vitmate-small')
    with pytest.raises(UnknownModelError) as caught:
        shipped_only.get('zzzzzzzz')
    assert 'did you mean' not in str(caught.value)


def test_config_path_and_weights_override():
    path = os.path.join(REPO_ROOT, 'configs', 'dim', 'dim_vgg16.yml')
    choice = resolve_model(path)
    assert choice.config == path and choice.weights is None and choice.entry is None
    assert resolve_model('dim-vgg16', weights='/tmp/mine.pdparams').weights == '/tmp/mine.pdparams'
    with pytest.raises(FileNotFoundError, match='nope.yml'):
        resolve_model('configs/nope.yml')


def test_environment_zoo_adds_and_replaces(tmp_path, monkeypatch):
    digest = 'ab' * 32
    extra = write_yaml(tmp_path / 'zoo.yml', {
        'defaults': {'model': 'mine'},
        'models': {'mine': {'config': 'configs/modnet/modnet_mobilenetv2.yml',
                            'weights': 'http://127.0.0.1:9/w.pdparams', 'sha256': digest.upper(),
                            'licence': 'x', 'commercial': 'x', 'task': 'portrait', 'input_size': 'x'},
                   'modnet-mobilenetv2': {'config': 'configs/modnet/modnet_mobilenetv2.yml',
                                          'weights': None, 'licence': 'y', 'commercial': 'y',
                                          'task': 'portrait', 'input_size': 'y'}}})
    monkeypatch.setenv(zoo.ZOO_ENV, extra)
    loaded = load_zoo()
    assert loaded.default('model').name == 'mine'
    assert loaded.default('refiner').name == 'vitmatte-small-composition-1k'  # shipped default kept
    assert loaded.get('mine').weights_spec() == f'http://127.0.0.1:9/w.pdparams#sha256={digest}'
    assert loaded.get('modnet-mobilenetv2').licence == 'y'
    with pytest.raises(UnknownModelError):  # a replaced entry is replaced whole, aliases too
        loaded.get('modnet')
    # a relative config resolves against the repository when the zoo file's folder lacks it
    assert loaded.get('mine').config == os.path.join(REPO_ROOT, 'configs/modnet/modnet_mobilenetv2.yml')


@pytest.mark.parametrize('entry, expected', [
    ({'config': 'c.yml', 'licence': 'x', 'commercial': 'x', 'task': 'portrait', 'input_size': 'x'},
     'models.bad: the key "weights" is missing'),
    ({'config': 'c.yml', 'weights': None, 'licence': 'x', 'commercial': 'x', 'task': 'people',
      'input_size': 'x'}, 'models.bad.task is'),
    ({'config': 'c.yml', 'weights': 'ftp://x', 'licence': 'x', 'commercial': 'x', 'task': 'video',
      'input_size': 'x'}, 'http(s) URL or null'),
    ({'config': 'c.yml', 'weights': None, 'sha256': 'abc', 'licence': 'x', 'commercial': 'x',
      'task': 'video', 'input_size': 'x'}, '64 hex digits'),
    ({'config': 'c.yml', 'weights': None, 'licence': 'x', 'commercial': 'x', 'task': 'video',
      'input_size': 'x', 'url': 'x'}, 'unknown key(s) url'),
])
def test_bad_zoo_file_one_line(tmp_path, monkeypatch, entry, expected):
    path = write_yaml(tmp_path / 'zoo.yml', {'models': {'bad': entry}})
    monkeypatch.setenv(zoo.ZOO_ENV, path)
    with pytest.raises(ZooFileError) as caught:
        load_zoo()
    assert expected in str(caught.value) and str(path) in str(caught.value)
    assert '\n' not in str(caught.value)


def test_readme_table_is_generated_from_the_zoo(shipped_only):
    with open(os.path.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    assert README_START in readme and README_END in readme
    table = readme.split(README_START)[1].split(README_END)[0].strip()
    assert table == zoo.markdown_table(shipped_only)


def test_models_command_lists_every_name(shipped_only):
    env = {k: v for k, v in os.environ.items() if k != zoo.ZOO_ENV}
    out = subprocess.run([sys.executable, '-m', 'paddlematting.cli.main', 'models'], env=env,
                         capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()
              and not line.startswith('default chain')]
    assert listed == shipped_only.names()
    assert 'default chain: model birefnet-lite, refiner vitmatte-small-composition-1k' in out.stdout
    trimap_only = subprocess.run([sys.executable, '-m', 'paddlematting.cli.main', 'models', '--task',
                                  'trimap'], env=env, capture_output=True, text=True, timeout=120)
    assert 'closed-form' in trimap_only.stdout and 'modnet-mobilenetv2' not in trimap_only.stdout
