"""What a model class declares about itself, read by export, predict, val and train.

A model states its needs as class attributes, and states only where it differs from the
defaults below::

    @manager.MODELS.add_component
    class MyTrimapNet(nn.Layer):
        input_names = ('img', 'trimap')   # what forward reads from its input dict, in call order
        exportable = False                # e.g. an op without a static kernel
        weights_layout = 'torch'          # published files come from a PyTorch project
        fixed_size = True                 # exported at the transforms' Resize size

No other file lists model types: export traces the declared inputs, predict asks for a
trimap when 'trimap' is declared, train refuses ``trainable = False`` and export refuses
``exportable = False``; the weights loader converts the ``.safetensors``/``.pth`` files of a
layer declaring ``weights_layout = 'torch'`` (``utils/torch_layout.py``; backbones may declare
it too, with a ``map_published_state`` name map). Pure Python: reading a declaration imports nothing.
"""
from typing import Any, Dict, NamedTuple, Tuple

# the layouts published weights come in: Paddle's own, or PyTorch's (see utils/torch_layout.py)
WEIGHTS_LAYOUTS = ('paddle', 'torch')
# channels of each input a model may declare, [N, C, H, W]: the RGB image, the one-channel trimap
INPUT_CHANNELS: Dict[str, int] = {'img': 3, 'trimap': 1}


class ModelTraits(NamedTuple):
    """A model's declaration (see the module docstring)."""
    input_names: Tuple[str, ...] = ('img',)
    trainable: bool = True
    exportable: bool = True
    recurrent: bool = False
    weights_layout: str = 'paddle'
    # why train.py refuses a ``trainable = False`` model, said to the user
    untrainable_reason: str = 'it has no parameters to train'
    # the traced program holds one input height and width (BiRefNet's image tiles and Swin
    # windows are laid out from them): export takes them from the transforms' fixed Resize
    fixed_size: bool = False


DEFAULT_TRAITS = ModelTraits()


def model_traits(model_or_class: Any) -> ModelTraits:
    """The declaration of a model instance or class, defaults filled in.

    Raises:
        ValueError: ``input_names`` is empty, does not start with 'img', or names an input
            outside ``INPUT_CHANNELS``.
    """
    values = {field: getattr(model_or_class, field, default)
              for field, default in DEFAULT_TRAITS._asdict().items()}
    names = values['input_names']
    names = (names,) if isinstance(names, str) else tuple(names)
    name = getattr(model_or_class, '__name__', type(model_or_class).__name__)
    unknown = [n for n in names if n not in INPUT_CHANNELS]
    if not names or names[0] != 'img' or unknown:
        raise ValueError(f'{name}.input_names is {names!r}; expected "img" first, then any of '
                         f'{", ".join(repr(n) for n in INPUT_CHANNELS if n != "img")}')
    values['input_names'] = names
    if values['weights_layout'] not in WEIGHTS_LAYOUTS:
        raise ValueError(f'{name}.weights_layout is {values["weights_layout"]!r}; expected one '
                         f'of {", ".join(repr(v) for v in WEIGHTS_LAYOUTS)}')
    for flag in ('trainable', 'exportable', 'recurrent', 'fixed_size'):
        values[flag] = bool(values[flag])
    return ModelTraits(**values)
