"""A request's options: the Python API's names, and rembg server's names where they mean the same.

| here | rembg's server | meaning |
|-|-|-|
| ``model`` | ``model`` | the segmenter (one of those the server loaded) |
| ``only_mask`` / ``om`` | ``om`` | the matte alone (gray PNG) |
| ``bgcolor`` / ``bgc`` | ``bgc`` | composite on a colour: 'r,g,b', 'r,g,b,255' or '#RRGGBB' (RGB PNG) |
| ``refiner`` | - | a trimap-based refiner served here, or 'none' |
| ``a`` (``alpha_matting``) | ``a`` | refine the mask's edge: true = the default (or first) refiner, false = none |
| ``af`` / ``ab`` | ``af`` / ``ab`` | the automatic trimap's sure-foreground / sure-background thresholds, 0..255 |
| ``ae`` | ``ae`` | the trimap's margin in pixels (rembg's erode size) |
| ``fg_method`` | - | cut-out colours: blur_fusion, multilevel or none |
| ``ppm``, ``extras`` | ``ppm``, ``extras`` | accepted and ignored (no post-processing of the mask here) |

Anything else is refused (422, naming the parameter), as is a value of the wrong type.
"""
from typing import Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ['RemoveParams', 'ValidationError', 'parameter_docs']

FgMethod = Literal['blur_fusion', 'multilevel', 'none']


class RemoveParams(BaseModel):
    """The options of one ``/api/remove`` request (query string and form fields together)."""
    model_config = ConfigDict(extra='forbid', frozen=True, protected_namespaces=())

    model: Optional[str] = Field(None, description='segmenter; default: the server\'s first --model')
    refiner: Optional[str] = Field(None, description='a refiner this server loaded, or "none"')
    only_mask: bool = Field(False, validation_alias=AliasChoices('only_mask', 'om'),
                            description='return the matte alone (gray PNG); rembg: om')
    bgcolor: Optional[str] = Field(None, validation_alias=AliasChoices('bgcolor', 'bgc'),
                                   description='composite on r,g,b / r,g,b,255 / #RRGGBB; rembg: bgc')
    fg_method: Optional[FgMethod] = Field(None, description='cut-out colours (default blur_fusion)')
    alpha_matting: Optional[bool] = Field(None, validation_alias=AliasChoices('alpha_matting', 'a'),
                                          description='refine the edge (rembg: a); default: the '
                                                      'server\'s default refiner, if any')
    fg_threshold: Optional[int] = Field(None, ge=0, le=255, validation_alias=AliasChoices('fg_threshold', 'af'),
                                        description='sure foreground at or above (0..255); rembg: af')
    bg_threshold: Optional[int] = Field(None, ge=0, le=255, validation_alias=AliasChoices('bg_threshold', 'ab'),
                                        description='sure background at or below (0..255); rembg: ab')
    erode_size: Optional[int] = Field(None, ge=0, le=1024, validation_alias=AliasChoices('erode_size', 'ae'),
                                      description='the trimap margin in pixels; rembg: ae')
    ppm: Optional[bool] = Field(None, description='rembg\'s post_process_mask: accepted, ignored')
    extras: Optional[str] = Field(None, description='rembg\'s extras: accepted, ignored')

    @field_validator('bgcolor')
    @classmethod
    def _rgb_only(cls, value: Optional[str]) -> Optional[str]:
        """rembg sends 'r,g,b,a'; a composite here is opaque, so only a = 255 is taken."""
        if value is None:
            return None
        parts = [p.strip() for p in value.split(',')]
        if len(parts) == 4:
            if parts[3] != '255':
                raise ValueError(f'bgcolor {value!r}: the composite is opaque; give r,g,b or '
                                 f'r,g,b,255 (or omit bgcolor for a transparent cut-out)')
            return ','.join(parts[:3])
        return value

    def thresholds_given(self) -> bool:
        return any(v is not None for v in (self.fg_threshold, self.bg_threshold, self.erode_size))


def parameter_docs() -> list:
    """OpenAPI ``parameters`` for the query string (each field under its first name; the
    description names rembg's)."""
    schema = RemoveParams.model_json_schema()
    docs = []
    for name, field in RemoveParams.model_fields.items():
        alias = field.validation_alias
        shown = alias.choices[0] if isinstance(alias, AliasChoices) else name
        docs.append({'name': shown, 'in': 'query', 'required': False,
                     'description': field.description or '',
                     'schema': schema['properties'].get(shown, schema['properties'].get(name, {}))})
    return docs
