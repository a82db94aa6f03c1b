"""The one-call API: ``remove(image)`` and ``Matting`` (see ``api.matting``).

    import paddlematting as pm
    rgba = pm.remove('photo.jpg')                                   # the default chain
    m = pm.Matting('birefnet-lite', refiner='vitmatte-small-composition-1k')
    rgba = m.remove(image)     # numpy HxWx3 uint8 RGB, PIL image, bytes or a path
    alpha = m.alpha(image)     # float32 HxW in [0, 1] at the input's size
"""
from .cutout import CutoutOptions
from .matting import Matting, MattingSettings, remove

__all__ = ['remove', 'Matting', 'MattingSettings', 'CutoutOptions']
