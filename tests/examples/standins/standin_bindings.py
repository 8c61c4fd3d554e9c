"""The real providers' schemas as the prebuilt cdktf bindings record them, and a check of a `tf` schema.

Each bindings wheel carries its jsii assembly, `_jsii/provider-<name>@<version>.jsii.tgz`, an npm tarball:
- `package/.jsii` (JSON): each config struct's properties, with the optional flag and the type (a
  struct fqn for a block of at most one, an array for a list block);
- `package/lib/<resource>/index.js`: `synthesizeHclAttributes()` and the `<struct>ToHclTerraform`
  functions tell block from attribute and list, set, map or struct; its embedded TypeScript source (the
  source map's `sourcesContent`) has, above each getter, `// name - computed: x, optional: y,
  required: z` as generated from the provider's schema, and the getter's type.
What the bindings cannot tell (defaults, ForceNew) is not checked.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tf.schema import Attribute, NestedBlock, Schema

from examples.standins._blocks import ListNestedBlock, SingleNestedBlock


@dataclass
class BindingAttribute:
    type: str
    required: bool
    optional: bool
    computed: bool


@dataclass
class BindingBlock:
    nesting: str  # "list", "set" or "single"
    max_items: int | None
    module: Module
    struct_name: str

    @property
    def body(self) -> BindingStruct:
        """Read on demand: blocks a stand-in does not declare may not be readable (provider blocks)."""
        return self.module.struct(self.struct_name)


@dataclass
class BindingStruct:
    attributes: dict[str, BindingAttribute] = field(default_factory=dict)
    blocks: dict[str, BindingBlock] = field(default_factory=dict)


class Assembly:
    """One bindings package's jsii assembly."""

    def __init__(self, package: str):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None, f"{package} is not installed"
        (self.path,) = (Path(spec.origin).parent / "_jsii").glob("*.jsii.tgz")
        with tarfile.open(self.path) as archive:
            self._files = {
                member.name: archive.extractfile(member).read().decode()  # type: ignore[union-attr]
                for member in archive.getmembers()
                if member.isfile() and (member.name == "package/.jsii" or member.name.endswith("/index.js"))
            }
        self.jsii = json.loads(self._files["package/.jsii"])

    def module(self, directory: str) -> Module:
        return Module(self, directory)


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


_GETTER = re.compile(
    r"// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\n"
    r"(?P<declaration>(?:  private [^\n]*\n)?)"
    r"  public get \w+\(\) \{\n\s*return (?P<expression>[^\n]*);"
)
_HCL_ENTRY = re.compile(r"(\w+): \{\s*value: [^\n]*\n\s*isBlock: (true|false),\s*type: \"(\w+)\"")
_NEW_NESTED = re.compile(r"new (\w+?)(?:List|OutputReference)\(this, \"\w+\"(?:, (true|false))?\)")
# Provider blocks have no output references, only a typed private field.
_DECLARED_STRUCT = re.compile(r"private _\w+\?: ([A-Z]\w+)(?:\[\])?(?: \| cdktf\.IResolvable)?;")
_COMPUTED_MAPS = {"StringMap": "map(string)", "NumberMap": "map(number)", "BooleanMap": "map(bool)"}
_NEW_MAP = re.compile(r"new cdktf\.(\w+)\(this, ")
_SIMPLE_GETTERS = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": "list(string)",
    "getNumberListAttribute": "list(number)",
    "getStringMapAttribute": "map(string)",
    "getNumberMapAttribute": "map(number)",
    "getBooleanMapAttribute": "map(bool)",
}


class Module:
    """One resource's (or data source's, or provider's) `lib/<directory>` of an assembly."""

    def __init__(self, assembly: Assembly, directory: str):
        self.assembly = assembly
        self.directory = directory
        self.javascript = assembly._files[f"package/lib/{directory}/index.js"]
        source_map = re.search(r"sourceMappingURL=data:application/json;base64,(\S+)", self.javascript)
        assert source_map, f"no embedded source map in lib/{directory}/index.js"
        self.typescript: str = json.loads(base64.b64decode(source_map.group(1)))["sourcesContent"][0]
        self.classes = {
            section.split()[0]: section for section in re.split(r"\nexport class ", self.typescript)[1:]
        }

    def _jsii_struct(self, struct: str) -> dict[str, Any]:
        for fqn, declaration in self.assembly.jsii["types"].items():
            location = declaration.get("locationInModule", {}).get("filename")
            if fqn.endswith(f".{struct}") and location == f"src/{self.directory}/index.ts":
                properties = [prop for prop in declaration.get("properties", []) if prop.get("docs")]
                return {_terraform_name(prop): prop for prop in properties}
        raise KeyError(f"no jsii struct {struct} in lib/{self.directory}")

    def _hcl_entries(self, struct: str, main_class: str | None) -> dict[str, tuple[bool, str]]:
        if main_class:
            start = self.javascript.index(f"class {main_class} extends")
            start = self.javascript.index("synthesizeHclAttributes() {", start)
        else:
            start = self.javascript.index(f"function {_lower_first(struct)}ToHclTerraform(struct) {{")
        body = self.javascript[start : self.javascript.index("};", start)]
        return {name: (is_block == "true", kind) for name, is_block, kind in _HCL_ENTRY.findall(body)}

    def struct(self, struct: str, main_class: str | None = None) -> BindingStruct:
        """The schema of config struct `struct` (e.g. `ContainerPorts`); for the top level, `main_class`."""
        getters_of = main_class or f"{struct}OutputReference"
        hcl = self._hcl_entries(struct, main_class)
        jsii = self._jsii_struct(struct) if hcl else {}
        result = BindingStruct()
        for match in _GETTER.finditer(self.classes[getters_of]):
            name, computed, optional, required = match.group(1, 2, 3, 4)
            flags = {
                "required": required == "true",
                "optional": optional == "true",
                "computed": computed == "true",
            }
            if name in jsii:
                assert jsii[name].get("optional", False) == flags["optional"] or flags["computed"], name
            is_block, kind = hcl.get(name, (False, "simple"))
            nested_struct, is_set = _nested_struct(match.group("declaration"), kind)
            if nested_struct and is_block:
                single_object = "collection" not in json.dumps(jsii[name]["type"])
                nesting = "set" if is_set else ("single" if kind == "struct" else "list")
                result.blocks[name] = BindingBlock(
                    nesting=nesting,
                    max_items=1 if single_object and nesting == "list" else None,
                    module=self,
                    struct_name=nested_struct,
                )
            elif nested_struct:
                element = self.struct(nested_struct)
                fields = ",".join(f"{k}={v.type}" for k, v in sorted(element.attributes.items()))
                collection = "set" if is_set else "list"
                result.attributes[name] = BindingAttribute(f"{collection}(object({{{fields}}}))", **flags)
            elif computed_map := _NEW_MAP.search(match.group("declaration")):
                result.attributes[name] = BindingAttribute(_COMPUTED_MAPS[computed_map.group(1)], **flags)
            else:
                kind_name = _getter_type(match.group("expression"), match.group("declaration"), kind)
                result.attributes[name] = BindingAttribute(kind_name, **flags)
        return result


def _nested_struct(declaration: str, hcl_kind: str) -> tuple[str | None, bool]:
    """(the nested struct's name, whether it is a set) when the field holds objects."""
    created = _NEW_NESTED.search(declaration)
    if created:
        return created.group(1), created.group(2) == "true"
    declared = _DECLARED_STRUCT.search(declaration)
    if declared:
        return declared.group(1), hcl_kind == "set"
    return None, False


def _terraform_name(prop: dict[str, Any]) -> str:
    remarks = prop["docs"].get("remarks", "") + prop["docs"].get("summary", "")
    found = re.search(r"#(\w+) \w+#\w+\}", remarks)
    return found.group(1) if found else re.sub(r"([A-Z])", r"_\1", prop["name"]).lower()


_DECLARED_TYPES = {
    "string": "string",
    "number": "number",
    "boolean | cdktf.IResolvable": "bool",
    "string[]": "list(string)",
    "number[]": "list(number)",
    "{ [key: string]: string }": "map(string)",
}


def _getter_type(expression: str, declaration: str, hcl_kind: str) -> str:
    """The type a getter reads (resources), or the private field's TypeScript type (provider blocks)."""
    method = re.search(r"this\.(\w+)\(", expression)
    if method:
        kind = _SIMPLE_GETTERS[method.group(1)]
        is_set = expression.startswith("cdktf.Fn.tolist(")
    else:
        declared = re.search(r"private _\w+\?: (.+?); ?$", declaration.strip())
        assert declared, f"unknown getter {expression!r} / {declaration!r}"
        kind = _DECLARED_TYPES[declared.group(1)]
        is_set = hcl_kind == "set"
    return kind.replace("list(", "set(") if is_set else kind


@cache
def assembly(package: str) -> Assembly:
    return Assembly(package)


def tf_type_name(raw: Any) -> str:
    """A `tf` type's wire JSON as `list(object({a=string}))`, like the bindings' names above."""
    if isinstance(raw, bytes):
        raw = json.loads(raw)
    if isinstance(raw, str):
        return raw
    kind, element = raw
    if kind == "object":
        return "object({" + ",".join(f"{k}={tf_type_name(v)}" for k, v in sorted(element.items())) + "})"
    return f"{kind}({tf_type_name(element)})"


def _nesting(block: NestedBlock) -> str:
    if isinstance(block, ListNestedBlock):
        return "list"
    if isinstance(block, SingleNestedBlock):
        return "single"
    return "set"


def schema_differences(
    attributes: list[Attribute], blocks: list[NestedBlock], truth: BindingStruct, where: str
) -> list[str]:
    """Every way in which what the `tf` schema declares differs from the bindings' schema."""
    problems = []
    for attribute in attributes:
        expected = truth.attributes.get(attribute.name)
        path = f"{where}.{attribute.name}"
        if expected is None:
            kind = "a block" if attribute.name in truth.blocks else "unknown"
            problems.append(f"{path}: attribute is {kind} in the real schema")
            continue
        actual_type = tf_type_name(attribute.type.tf_type())
        if actual_type != expected.type:
            problems.append(f"{path}: type {actual_type}, real {expected.type}")
        for flag in ("required", "optional", "computed"):
            declared, real = bool(getattr(attribute, flag)), getattr(expected, flag)
            if declared != real:
                problems.append(f"{path}: {flag}={declared}, real {real}")
    for block in blocks:
        expected_block = truth.blocks.get(block.type_name)
        path = f"{where}.{block.type_name}"
        if expected_block is None:
            kind = "an attribute" if block.type_name in truth.attributes else "unknown"
            problems.append(f"{path}: block is {kind} in the real schema")
            continue
        if _nesting(block) != expected_block.nesting:
            problems.append(f"{path}: nesting {_nesting(block)}, real {expected_block.nesting}")
        if block.max_items != expected_block.max_items:
            problems.append(f"{path}: max_items {block.max_items}, real {expected_block.max_items}")
        nested = block.block
        problems += schema_differences(nested.attributes, nested.block_types, expected_block.body, path)
    return problems


def check_schema(schema: Schema, truth: BindingStruct, where: str) -> list[str]:
    return schema_differences(schema.attributes, schema.block_types, truth, where)
