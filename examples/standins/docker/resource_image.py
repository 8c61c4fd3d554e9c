"""`docker_image`: an image that is already on the engine, kept in state by its id.

The real resource pulls `name` from a registry; no registry is reachable where the stand-in runs, so it
never pulls and never builds: create finds the local image or fails with a hint (`make image`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tf.iface import (
    CreateContext,
    DeleteContext,
    ImportContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Attribute, Schema
from tf.types import Bool, Map, String
from tf.utils import Diagnostics

from examples.standins.docker._provider import report_engine_error

if TYPE_CHECKING:
    import docker.models.images

    from examples.standins.docker._provider import DockerProvider

SCHEMA = Schema(
    version=0,
    description="An image present on the Docker engine (offline stand-in: never pulls, never builds).",
    attributes=[
        Attribute(
            "name",
            String(),
            description="The image's name and tag, e.g. `demoapp:dev`; it must already be on the engine.",
            required=True,
            requires_replace=True,
        ),
        Attribute(
            "keep_locally",
            Bool(),
            description="When true, destroy removes the image from state only, not from the engine. "
            "Default false.",
            optional=True,
        ),
        Attribute(
            "force_remove",
            Bool(),
            description="When true, destroy removes the image even if containers use it. Default false.",
            optional=True,
        ),
        Attribute(
            "triggers",
            Map(String()),
            description="Arbitrary values that, when changed, replace the resource.",
            optional=True,
            requires_replace=True,
        ),
        Attribute(
            "id",
            String(),
            description="The image id followed by the name, as the real provider forms it.",
            computed=True,
        ),
        Attribute(
            "image_id",
            String(),
            description="The image's id (`sha256:...`); use it as a container's `image` so that a "
            "rebuilt image replaces the container.",
            computed=True,
        ),
        Attribute(
            "repo_digest",
            String(),
            description="The image's registry digest (`name@sha256:...`), or empty for a local build.",
            computed=True,
        ),
    ],
)


@dataclass
class ImageModel:
    name: str
    keep_locally: bool | None
    force_remove: bool | None
    triggers: dict[str, str] | None
    id: str | None = None
    image_id: str | None = None
    repo_digest: str | None = None

    @classmethod
    def from_state(cls, state: State) -> ImageModel:
        return cls(
            name=state["name"],
            keep_locally=state.get("keep_locally"),
            force_remove=state.get("force_remove"),
            triggers=state.get("triggers"),
            id=state.get("id"),
            image_id=state.get("image_id"),
            repo_digest=state.get("repo_digest"),
        )

    def observe(self, image: docker.models.images.Image) -> None:
        digests: list[str] = image.attrs.get("RepoDigests") or []
        self.image_id = image.id
        self.id = f"{image.id}{self.name}"
        self.repo_digest = digests[0] if digests else ""

    def to_state(self) -> State:
        return asdict(self)


class ImageResource(Resource):
    def __init__(self, provider: DockerProvider):
        self._provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "image"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def _find(self, diags: Diagnostics, name: str, on_missing: str) -> tuple[bool, Any]:
        """(engine reachable, the image or None)."""
        import docker.errors

        client = self._provider.client(diags)
        if client is None:
            return False, None
        try:
            return True, client.images.get(name)
        except docker.errors.ImageNotFound:
            if on_missing:
                diags.add_error(
                    f"Image {name} is not on the Docker engine",
                    f"{on_missing} The offline stand-in of kreuzwerker/docker never pulls (no registry is "
                    f"reachable): build or load the image first, e.g. `make image` for demoapp:dev.",
                    path=["name"],
                )
            return True, None
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(diags, f"inspect image {name}", exc, path=["name"])
            return False, None

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        model = ImageModel.from_state(planned)
        _, image = self._find(ctx.diagnostics, model.name, on_missing="Cannot create docker_image.")
        if image is None:
            return None
        model.observe(image)
        return model.to_state()

    def read(self, ctx: ReadContext, current: State) -> State | None:
        model = ImageModel.from_state(current)
        reachable, image = self._find(ctx.diagnostics, model.name, on_missing="")
        if not reachable:
            return current
        if image is None:
            # Gone from the engine: drop it from state, so the next plan creates it again.
            return None
        model.observe(image)
        return model.to_state()

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        # Only keep_locally and force_remove can change in place; they matter at destroy only.
        model = ImageModel.from_state(planned)
        for name in ("id", "image_id", "repo_digest"):
            setattr(model, name, current.get(name))
        return model.to_state()

    def delete(self, ctx: DeleteContext, current: State) -> None:
        import docker.errors

        model = ImageModel.from_state(current)
        if model.keep_locally:
            return
        client = self._provider.client(ctx.diagnostics)
        if client is None:
            return
        try:
            client.images.remove(model.image_id or model.name, force=bool(model.force_remove))
        except docker.errors.ImageNotFound:
            pass
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(ctx.diagnostics, f"remove image {model.name}", exc)

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        """Import by image name (`demoapp:dev`)."""
        model = ImageModel(name=id, keep_locally=None, force_remove=None, triggers=None)
        _, image = self._find(ctx.diagnostics, id, on_missing="Cannot import docker_image.")
        if image is None:
            return None
        model.observe(image)
        return model.to_state()
