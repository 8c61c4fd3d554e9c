"""What the stand-ins need from the plugin protocol beyond what `tf`'s servicer answers."""

from __future__ import annotations

from typing import Any

import grpc
from tf.gen import tfplugin_pb2 as pb
from tf.provider import ProviderServicer
from tf.types import Unknown
from tf.utils import _to_attribute_path, read_dynamic_value, to_dynamic_value

from examples.standins._blocks import ListNestedBlock


class StandinServicer(ProviderServicer):
    """`tf`'s servicer with two plan rules of the real (SDKv2) providers added.

    - On create, an optional+computed attribute inside a LIST block that the configuration leaves unset
      (e.g. `ports.external`) is planned unknown: `tf` plans it null, and Terraform then rejects the
      port the engine picked as "inconsistent result after apply".
    - On update, a change inside a block marked `requires_replace` forces a new resource, as ForceNew
      does on the real provider's `ports` and `healthcheck`.
    """

    def PlanResourceChange(
        self, request: pb.PlanResourceChange.Request, context: grpc.ServicerContext
    ) -> Any:
        response = super().PlanResourceChange(request, context)
        if any(d.severity == pb.Diagnostic.ERROR for d in response.diagnostics):
            return response
        planned = read_dynamic_value(response.planned_state)
        if not isinstance(planned, dict):
            return response
        prior = read_dynamic_value(request.prior_state)
        blocks = {
            name: block
            for name, block in self._get_res_blocks(request.type_name).items()
            if isinstance(block, ListNestedBlock)
        }
        if prior is None:
            for name, block in blocks.items():
                _plan_unset_computed_unknown(block, planned.get(name))
            response.planned_state.CopyFrom(to_dynamic_value(planned))
        else:
            for name, block in blocks.items():
                if block.requires_replace and prior.get(name) != planned.get(name):
                    response.requires_replace.append(_to_attribute_path([name]))
        return response


def _plan_unset_computed_unknown(block: ListNestedBlock, elements: Any) -> None:
    if not isinstance(elements, list):
        return
    computed = [a.name for a in block.block.attributes if a.optional and a.computed]
    for element in elements:
        for name in computed:
            if isinstance(element, dict) and element.get(name) is None:
                element[name] = Unknown
