"""The demo harness: the `demoapp` CLI, and a terraform runner the stress and chaos tests reuse."""

from examples.harness._demo import Demo, Verification, Workspace
from examples.harness._errors import HarnessError
from examples.harness._terraform import (
    Diagnostic,
    Event,
    PlanResult,
    RunResult,
    Terraform,
    TerraformError,
)

__all__ = [
    "Demo",
    "Diagnostic",
    "Event",
    "HarnessError",
    "PlanResult",
    "RunResult",
    "Terraform",
    "TerraformError",
    "Verification",
    "Workspace",
]
