"""The OpenAI-compatible gateway (`mixstack serve`): a thin front door over the pipeline."""

from mixstack.gateway._app import Gateway, app_from_env, create_app

__all__ = ["Gateway", "app_from_env", "create_app"]
