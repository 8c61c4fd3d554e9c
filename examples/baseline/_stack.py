"""The baseline demo as a cdktf stack: docker -> time -> http -> demoapp.

docker_image  (keep_locally)
docker_container (127.0.0.1:<port>, healthcheck, wait = true)
time_sleep    (triggers = { container_id }: a re-created container re-runs the sleep, which defers the
               http read to apply time, so one apply recovers after a crash)
data "http"   (/api/system, with retry)
demoapp_display (the captured system info; ignore_changes = [data], restored by the provider)
demoapp_item x N (count)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from examples._cdk import (
    App,
    Construct,
    Container,
    ContainerHealthcheck,
    ContainerPorts,
    DataHttp,
    DataHttpRetry,
    DemoappDisplay,
    DemoappItem,
    DemoappProvider,
    DockerProvider,
    Fn,
    HttpProvider,
    Image,
    LocalBackend,
    PgBackend,
    Sleep,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    TimeProvider,
)
from examples.baseline._settings import CONTAINER_PORT, BaselineSettings

STACK_ID = "baseline"
CONFIG_FILE = "cdk.tf.json"
# Relative to the folder terraform runs in: the harness keeps one folder per provider source
# (stand-ins or real, each with its own lock file) and both share this state.
LOCAL_STATE_PATH = "../terraform.tfstate"
DISPLAY_SOURCE = "demoapp baseline demo (cdktf, data.http /api/system)"
ITEM_RESOURCE = "item"
# Item names count from 1; terraform fills in the number (count.index + 1) in the config.
ITEM_NAME_PREFIX = "Demo item "


def item_names(count: int) -> dict[str, str]:
    """The name the config gives each `demoapp_item` address: `demoapp_item.item[0]` is `Demo item 1`."""
    return {
        f"demoapp_item.{ITEM_RESOURCE}[{index}]": f"{ITEM_NAME_PREFIX}{index + 1}" for index in range(count)
    }


class BaselineStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, settings: BaselineSettings) -> None:
        super().__init__(scope, id)
        if settings.pg_conn_str is None:
            LocalBackend(self, path=LOCAL_STATE_PATH)
        else:
            PgBackend(self, conn_str=settings.pg_conn_str, schema_name=settings.pg_schema)

        DockerProvider(self, "docker")
        TimeProvider(self, "time")
        HttpProvider(self, "http")
        demoapp = DemoappProvider(self, "demoapp", endpoint=settings.app_url)

        image = Image(self, "image", name=settings.image, keep_locally=True)
        container = Container(
            self,
            "container",
            name=settings.container_name,
            image=image.image_id,
            ports=[ContainerPorts(internal=CONTAINER_PORT, external=settings.port, ip="127.0.0.1")],
            healthcheck=ContainerHealthcheck(
                test=["CMD", "demo-app", "healthcheck"],
                interval="2s",
                timeout="2s",
                retries=10,
                start_period="5s",
            ),
            wait=True,
            wait_timeout=60,
            # The image's runtime contract: nothing writes outside the tmpfs (the store lives in /dev/shm).
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},
        )
        settle = Sleep(
            self,
            "settle",
            create_duration=settings.settle,
            triggers={"container_id": container.id},
        )
        system_url = f"{settings.app_url}/api/system"
        system = DataHttp(
            self,
            "system",
            url=system_url,
            request_headers={"Accept": "application/json"},
            retry=DataHttpRetry(attempts=10, min_delay_ms=500, max_delay_ms=2000),
            depends_on=[settle],
        )
        display = DemoappDisplay(
            self,
            "display",
            data=Fn.jsonencode(
                {
                    "source": DISPLAY_SOURCE,
                    "fetched_from": system_url,
                    "captured_at": Fn.timestamp(),
                    "system_info": Fn.jsondecode(system.response_body),
                }
            ),
            provider=demoapp,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["data"]),
        )
        DemoappItem(
            self,
            ITEM_RESOURCE,
            name=ITEM_NAME_PREFIX + "${count.index + 1}",
            description="Created by the baseline demo",
            provider=demoapp,
            count=settings.items,
            # Created once the service answers, not raced against the container's start.
            depends_on=[settle],
        )

        TerraformOutput(self, "app_url", value=settings.app_url, description="The demo page")
        TerraformOutput(self, "container_id", value=container.id, description="The service's container")
        # From the captured display, not the data source: http is read again on every plan, and an output
        # that follows it would make every plan report a change.
        TerraformOutput(
            self,
            "system_info",
            value=f"${{jsondecode({display.fqn}.data).system_info}}",
            description="What the service reported at /api/system when the display was captured",
        )
        TerraformOutput(
            self,
            "items",
            value="${[for item in demoapp_item.item : { id = item.id, name = item.name }]}",
            description="The items created, id and name",
        )


def synthesize(settings: BaselineSettings, directory: Path) -> Path:
    """Write the baseline's Terraform JSON to `<directory>/cdk.tf.json` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cdktf-") as outdir:
        app = App(outdir=outdir)
        BaselineStack(app, STACK_ID, settings)
        app.synth()
        target = directory / CONFIG_FILE
        shutil.copyfile(Path(outdir) / "stacks" / STACK_ID / CONFIG_FILE, target)
    return target
