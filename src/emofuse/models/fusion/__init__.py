"""The fusion model zoo. Importing this package registers every model in ``MODELS``."""

from emofuse.models.fusion import early  # noqa: F401
