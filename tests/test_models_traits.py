"""A model's declaration (input_names, trainable, exportable, recurrent) and its defaults."""
import pytest

from paddlematting.models import DIM, MODNet
from paddlematting.models.traits import DEFAULT_TRAITS, ModelTraits, model_traits


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
