"""Nested blocks with the nesting modes of the real providers' schemas, which `tf` lacks.

`tf` ships only `SetNestedBlock`. The real docker provider declares `ports` as a LIST block and
`healthcheck` as a LIST block of at most one element; the real http provider declares `retry` as a
SINGLE block. A set block would apply, but the schema would differ from the real one.
"""

from __future__ import annotations

from typing import Any

from tf.gen import tfplugin_pb2 as pb
from tf.schema import Block, NestedBlock, NestMode
from tf.types import Unknown
from tf.utils import Diagnostics


def _encode_element(block: NestedBlock, value: dict[str, Any]) -> dict[str, Any] | None:
    from tf.provider import _encode_state_d

    return _encode_state_d(block._amap(), block._bmap(), value, None)


def _decode_element(block: NestedBlock, value: dict[str, Any]) -> dict[str, Any] | None:
    from tf.provider import _decode_state

    return _decode_state(Diagnostics(), block._amap(), block._bmap(), value)[1]


def _has_unknown(value: Any) -> bool:
    if value is Unknown:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknown(item) for item in value)
    return False


class ListNestedBlock(NestedBlock):
    """A block in nesting mode LIST: ordered elements, compared in order.

    `requires_replace`: a change of the block forces a new resource (`tf` supports that on attributes
    only; `examples.standins._servicer.StandinServicer` reads this flag).
    """

    def __init__(
        self,
        type_name: str,
        block: Block,
        max_items: int | None = None,
        requires_replace: bool = False,
    ):
        super().__init__(type_name, NestMode.Set, block, max_items=max_items)
        self.requires_replace = requires_replace

    def to_pb(self) -> pb.Schema.NestedBlock:
        message = super().to_pb()
        message.nesting = pb.Schema.NestedBlock.NestingMode.LIST
        return message

    def encode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return [_encode_element(self, element) for element in value]

    def decode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return [_decode_element(self, element) for element in value]

    def semantically_equal(self, a_decoded: Any, b_decoded: Any) -> bool:
        # A value still unknown (a computed attribute in a plan) never equals a known result, so the
        # known result is what goes back to Terraform.
        return not (_has_unknown(a_decoded) or _has_unknown(b_decoded)) and a_decoded == b_decoded


class SingleNestedBlock(NestedBlock):
    """A block in nesting mode SINGLE: one object or null (the plugin framework's SingleNestedBlock)."""

    def __init__(self, type_name: str, block: Block):
        super().__init__(type_name, NestMode.Single, block)
        self.requires_replace = False

    def encode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return _encode_element(self, value)

    def decode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return _decode_element(self, value)

    def semantically_equal(self, a_decoded: Any, b_decoded: Any) -> bool:
        return not (_has_unknown(a_decoded) or _has_unknown(b_decoded)) and a_decoded == b_decoded
