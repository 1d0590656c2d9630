"""Encoders, fusion models, the model registry and checkpoints."""

from emofuse.models.base import (
    MODELS,
    FusionConfig,
    FusionModel,
    FusionResult,
    ModelOutput,
    create_model,
    list_models,
    model_config,
    register_model,
)

__all__ = ["MODELS", "FusionConfig", "FusionModel", "FusionResult", "ModelOutput", "create_model",
           "list_models", "model_config", "register_model"]
