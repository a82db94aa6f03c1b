"""The toolkit's own component registries.

They use paddleseg's ``ComponentManager`` class but are separate instances, so
registering a matting component never changes paddleseg's global registries.
Registered names equal PaddleSeg Matting's, so its YAML files build unchanged.
"""
from paddleseg.cvlibs.manager import ComponentManager

MODELS = ComponentManager('models')
BACKBONES = ComponentManager('backbones')
DATASETS = ComponentManager('datasets')
TRANSFORMS = ComponentManager('transforms')
LOSSES = ComponentManager('losses')

ALL_REGISTRIES = (MODELS, BACKBONES, DATASETS, TRANSFORMS, LOSSES)
