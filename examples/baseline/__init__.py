"""The baseline demo: the original demo-app-examples chain, written with cdktf."""

from examples.baseline._settings import CONTAINER_PORT, BaselineSettings, SettingsError
from examples.baseline._stack import CONFIG_FILE, LOCAL_STATE_PATH, BaselineStack, item_names, synthesize

__all__ = [
    "CONFIG_FILE",
    "CONTAINER_PORT",
    "LOCAL_STATE_PATH",
    "BaselineSettings",
    "BaselineStack",
    "SettingsError",
    "item_names",
    "synthesize",
]
