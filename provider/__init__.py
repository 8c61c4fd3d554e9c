"""terraform-provider-demoapp: the Terraform provider for the demo service, on the PyPI `tf` framework.

Kept import-light on purpose: `python -m provider` starts the plugin, and every module imported here
adds to the handshake time of each of the 3-5 provider processes Terraform starts per command.
"""

from provider._mirror import ADDRESS, VERSION, install_launcher, write_cli_config

__all__ = ["ADDRESS", "VERSION", "install_launcher", "write_cli_config"]
