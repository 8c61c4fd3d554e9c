"""Terraform value types that `tf` lacks."""

from __future__ import annotations

import json
from typing import Any

from tf.types import TfType, Unknown


class Object(TfType):
    """An object with a fixed set of typed attributes; maps to a Python `dict`.

    `tf` has no object type, so a list of records (e.g. the items a data source returns) would otherwise
    have to be flattened into parallel lists or a JSON string.
    """

    def __init__(self, attribute_types: dict[str, TfType]):
        self.attribute_types = attribute_types

    def encode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return {name: kind.encode(value.get(name)) for name, kind in self.attribute_types.items()}

    def decode(self, value: Any) -> Any:
        if value is None or value is Unknown:
            return value
        return {name: kind.decode(value.get(name)) for name, kind in self.attribute_types.items()}

    def tf_type(self) -> bytes:
        fields = ",".join(
            f"{json.dumps(name)}:{kind.tf_type().decode()}" for name, kind in self.attribute_types.items()
        )
        return f'["object",{{{fields}}}]'.encode()
