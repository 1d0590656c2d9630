"""The fusion model zoo. Importing this package registers every model in ``MODELS``."""

from emofuse.models.fusion import (  # noqa: F401
    bclstm,
    bilinear,
    early,
    gated,
    late,
    lowrank,
    moe,
    mult,
    tensor,
)
