"""A model's declaration (input_names, trainable, exportable, recurrent) and its defaults;
every registered model's declaration, and that it agrees with what the class provides."""
import pytest

from paddlematting.config import manager
from paddlematting.models import DIM, MODNet
from paddlematting.models.traits import DEFAULT_TRAITS, ModelTraits, model_traits

_SOLVER = ModelTraits(('img', 'trimap'), trainable=False, exportable=False, recurrent=False)
# every registered model and what it declares (a new model is added here, on purpose)
DECLARED = {
    'DIM': ModelTraits(('img', 'trimap'), True, True, False),
    'GCA': ModelTraits(('img', 'trimap'), True, True, False),
    'MODNet': ModelTraits(('img',), True, True, False),
    'PPMatting': ModelTraits(('img',), True, True, False),
    'PPMattingV2': ModelTraits(('img',), True, True, False),
    'HumanMatting': ModelTraits(('img',), True, True, False),
    # published as PyTorch state dicts; traced at the size of its fixed Resize
    'BiRefNet': ModelTraits(('img',), True, True, False, 'torch', fixed_size=True),
    # Hugging Face's names: published safetensors load as they are
    'ViTMatte': ModelTraits(('img', 'trimap'), True, True, False, 'torch'),
    # ported for inference: no training loss; its state travels between frames
    'RVM': ModelTraits(('img',), trainable=False, exportable=True, recurrent=True),
    'CloseFormMatting': _SOLVER, 'FastMatting': _SOLVER, 'KNNMatting': _SOLVER,
    'LearningBasedMatting': _SOLVER, 'RandomWalksMatting': _SOLVER,
}


def test_every_registered_model_declares_what_it_is():
    # the package's models (other tests register small ones of their own)
    registered = {name: cls for name, cls in manager.MODELS.components_dict.items()
                  if cls.__module__.startswith('paddlematting.')}
    assert sorted(registered) == sorted(DECLARED)
    for name, cls in registered.items():
        # the reason for refusing training is checked below; the rest must be as declared here
        declared = model_traits(cls)._replace(untrainable_reason=DEFAULT_TRAITS.untrainable_reason)
        assert declared == DECLARED[name], name


@pytest.mark.parametrize('name', sorted(DECLARED))
def test_the_declaration_agrees_with_the_class(name):
    cls = manager.MODELS[name]
    traits = model_traits(cls)
    # the trainer's contract: a trainable model computes its own loss terms
    assert traits.trainable == callable(getattr(cls, 'loss', None))
    # what train.py prints when it refuses: RVM has parameters, so it says why it has no loss
    if name == 'RVM':
        assert 'no training loss' in traits.untrainable_reason
    elif not traits.trainable:
        assert traits.untrainable_reason == DEFAULT_TRAITS.untrainable_reason
    # the clip runners reset a recurrent model; export lists its state inputs and outputs
    assert traits.recurrent == callable(getattr(cls, 'reset', None))
    if traits.recurrent:
        assert len(cls.state_names) > 0
        assert cls.export_output_names[0] == 'alpha'


def test_defaults_for_a_class_that_declares_nothing():
    class Plain:
        pass
    assert model_traits(Plain) == DEFAULT_TRAITS == ModelTraits(('img',), True, True, False, 'paddle')


def test_the_shipped_models_declare_their_inputs():
    assert model_traits(DIM).input_names == ('img', 'trimap')
    assert model_traits(MODNet).input_names == ('img',)


def test_declarations_are_read_from_instances_too():
    class Solver:
        input_names = ['img', 'trimap']  # a list is accepted and kept in order
        trainable = False
    traits = model_traits(Solver())
    assert traits == ModelTraits(('img', 'trimap'), False, True, False, 'paddle')


@pytest.mark.parametrize('names', [(), ('trimap', 'img'), ('img', 'mask')])
def test_bad_input_names_name_the_class(names):
    bad = type('BadNet', (), {'input_names': names})
    with pytest.raises(ValueError, match=r'BadNet\.input_names'):
        model_traits(bad)
