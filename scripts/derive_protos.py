#!/usr/bin/env python3
"""Derive proto3 `.proto` text from the descriptors shipped in `tilebox-workflows` (wire-compatible copies).

The wheel ships its protos only as serialized FileDescriptorProtos inside `*_pb2.py` modules, written in
protobuf editions 2023, which prost cannot compile. This script re-emits them as proto3 with identical
packages, names, numbers, types, presence and packing, then (with --verify) compiles the output with
`grpc_tools.protoc` and compares the result with the originals field by field.

Usage (from the repository root, in a venv with `tilebox-workflows==0.66.0` and `grpcio-tools`):

    python scripts/derive_protos.py [--out server/proto] [--verify]

Edition features handled:
- field_presence: EXPLICIT singular scalars/enums/strings/bytes become `optional`; IMPLICIT ones stay plain.
- repeated_field_encoding: EXPANDED becomes `[packed = false]` (PACKED is the proto3 default).
- enum_type: CLOSED, message_encoding: DELIMITED and utf8_validation: NONE cannot be expressed in proto3;
  the script fails loudly if any of them occurs.
Dropped (no wire effect): file options, `deprecated`, `google.api.field_behavior` annotations and the
`google/api/field_behavior.proto` / `buf/validate/*` imports they need. The dropped items are listed on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

FDP = descriptor_pb2.FieldDescriptorProto
FeatureSet = descriptor_pb2.FeatureSet

# The client's own proto modules. Their transitive imports are resolved through the default pool.
ROOT_MODULES = [
    "tilebox.workflows.workflows.v1.automation_pb2",
    "tilebox.workflows.workflows.v1.core_pb2",
    "tilebox.workflows.workflows.v1.diagram_pb2",
    "tilebox.workflows.workflows.v1.job_pb2",
    "tilebox.workflows.workflows.v1.storage_location_pb2",
    "tilebox.workflows.workflows.v1.task_pb2",
    "tilebox.workflows.workflows.v1.task_release_pb2",
    "tilebox.workflows.workflows.v1.telemetry_pb2",
    "tilebox.workflows.workflows.v1.worker_pb2",
    "tilebox.workflows.workflows.v1.workflows_pb2",
]

OTEL_PREFIX = "opentelemetry/proto/"

# Imports protoc resolves from its bundled include directory; never emitted.
BUILTIN_PREFIX = "google/protobuf/"
# Annotation-only imports: dropped together with the options that use them.
DROPPED_IMPORT_PREFIXES = ("google/api/field_behavior.proto", "buf/validate/")

SCALAR_NAMES = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}
PACKABLE = set(SCALAR_NAMES) - {FDP.TYPE_STRING, FDP.TYPE_BYTES} | {FDP.TYPE_ENUM}

# Edition 2023 defaults for the features that matter here.
EDITION_2023_DEFAULTS = {
    "field_presence": FeatureSet.EXPLICIT,
    "enum_type": FeatureSet.OPEN,
    "repeated_field_encoding": FeatureSet.PACKED,
    "utf8_validation": FeatureSet.VERIFY,
    "message_encoding": FeatureSet.LENGTH_PREFIXED,
}


@dataclass
class Notes:
    """Everything the derivation dropped or noticed, printed at the end."""

    dropped_imports: list[str] = field(default_factory=list)
    dropped_options: list[str] = field(default_factory=list)
    explicit_presence: list[str] = field(default_factory=list)
    expanded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resolve(parent: dict[str, int], features: FeatureSet) -> dict[str, int]:
    """Apply a `features` override on top of inherited feature values."""
    out = dict(parent)
    for name in out:
        if features.HasField(name):
            out[name] = getattr(features, name)
    return out


def file_defaults(fd: descriptor_pb2.FileDescriptorProto) -> dict[str, int]:
    if fd.syntax == "editions":
        if fd.edition != descriptor_pb2.EDITION_2023:
            raise SystemExit(f"{fd.name}: unsupported edition {fd.edition}")
        return resolve(EDITION_2023_DEFAULTS, fd.options.features)
    if fd.syntax == "proto3":
        return {**EDITION_2023_DEFAULTS, "field_presence": FeatureSet.IMPLICIT}
    raise SystemExit(f"{fd.name}: unsupported syntax {fd.syntax!r}")


def collect_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """All FileDescriptorProtos reachable from ROOT_MODULES, keyed by file name, in dependency order."""
    pool = descriptor_pool.Default()
    for module in ROOT_MODULES:
        importlib.import_module(module)
    # opentelemetry's and google.api's modules register their files in the default pool on import
    importlib.import_module("opentelemetry.proto.trace.v1.trace_pb2")
    importlib.import_module("opentelemetry.proto.logs.v1.logs_pb2")
    ordered: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def visit(name: str) -> None:
        if name in ordered or name.startswith(BUILTIN_PREFIX) or name.startswith(DROPPED_IMPORT_PREFIXES):
            return
        fd = descriptor_pb2.FileDescriptorProto()
        pool.FindFileByName(name).CopyToProto(fd)
        for dep in fd.dependency:
            visit(dep)
        ordered[name] = fd

    for module in ROOT_MODULES:
        visit(importlib.import_module(module).DESCRIPTOR.name)
    return ordered


class Emitter:
    """Writes one FileDescriptorProto as proto3 text."""

    def __init__(self, fd: descriptor_pb2.FileDescriptorProto, notes: Notes) -> None:
        self.fd = fd
        self.notes = notes
        self.lines: list[str] = []
        self.prefix = f".{fd.package}." if fd.package else "."
        self.defaults = file_defaults(fd)

    def type_ref(self, type_name: str) -> str:
        # Same-package names are written relative; anything else fully qualified with a leading dot.
        # (The --verify step checks that every reference resolves to the original type.)
        if type_name.startswith(self.prefix):
            return type_name[len(self.prefix) :]
        return type_name

    def out(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text if text else "")

    def emit(self) -> str:
        fd = self.fd
        self.out(0, f"// Derived by scripts/derive_protos.py from the descriptor of {fd.name!r}")
        self.out(0, f"// shipped in {source_distribution(fd.name)}. Do not edit by hand; re-run the script.")
        if fd.name.startswith(OTEL_PREFIX):
            self.out(0, "// Needed only so protoc can parse the imports of workflows/v1/telemetry.proto and")
            self.out(0, "// worker.proto. Do not generate code from it: map `.opentelemetry.proto` to the")
            self.out(0, "// `opentelemetry-proto` crate with prost-build `extern_path`.")
        self.out(0, 'syntax = "proto3";')
        self.out(0, "")
        self.out(0, f"package {fd.package};")
        imports = []
        for dep in fd.dependency:
            if dep.startswith(DROPPED_IMPORT_PREFIXES):
                self.notes.dropped_imports.append(f"{fd.name}: import {dep}")
                continue
            imports.append(dep)
        if imports:
            self.out(0, "")
            for dep in imports:
                self.out(0, f'import "{dep}";')
        if fd.extension:
            self.notes.problems.append(f"{fd.name}: top-level extensions are not emitted")
        for enum in fd.enum_type:
            self.out(0, "")
            self.emit_enum(enum, 0, self.defaults, f"{fd.package}.{enum.name}")
        for msg in fd.message_type:
            self.out(0, "")
            self.emit_message(msg, 0, self.defaults, f"{fd.package}.{msg.name}")
        for svc in fd.service:
            self.out(0, "")
            self.emit_service(svc)
        return "\n".join(self.lines) + "\n"

    def emit_enum(self, enum: descriptor_pb2.EnumDescriptorProto, depth: int, parent: dict, full: str) -> None:
        features = resolve(parent, enum.options.features)
        if features["enum_type"] != FeatureSet.OPEN:
            self.notes.problems.append(f"{full}: CLOSED enum cannot be expressed in proto3")
        if not enum.value or enum.value[0].number != 0:
            self.notes.problems.append(f"{full}: first enum value is not 0")
        self.out(depth, f"enum {enum.name} {{")
        if enum.options.allow_alias:
            self.out(depth + 1, "option allow_alias = true;")
        for value in enum.value:
            self.out(depth + 1, f"{value.name} = {value.number};")
        self.emit_reserved(enum.reserved_range, enum.reserved_name, depth + 1, end_inclusive=True)
        self.out(depth, "}")

    def emit_reserved(self, ranges, names, depth: int, *, end_inclusive: bool) -> None:
        parts = []
        for r in ranges:
            end = r.end if end_inclusive else r.end - 1
            parts.append(str(r.start) if r.start == end else f"{r.start} to {'max' if end >= 536870911 else end}")
        if parts:
            self.out(depth, f"reserved {', '.join(parts)};")
        if names:
            self.out(depth, "reserved " + ", ".join(f'"{n}"' for n in names) + ";")

    def emit_message(self, msg: descriptor_pb2.DescriptorProto, depth: int, parent: dict, full: str) -> None:
        features = resolve(parent, msg.options.features)
        if msg.extension or msg.extension_range:
            self.notes.problems.append(f"{full}: extensions are not emitted")
        maps = {f".{full}.{n.name}": n for n in msg.nested_type if n.options.map_entry}
        self.out(depth, f"message {msg.name} {{")
        for enum in msg.enum_type:
            self.emit_enum(enum, depth + 1, features, f"{full}.{enum.name}")
        for nested in msg.nested_type:
            if not nested.options.map_entry:
                self.emit_message(nested, depth + 1, features, f"{full}.{nested.name}")

        # Real oneofs (not proto3 synthetic ones) are emitted as one block at the position of their first field.
        synthetic = {f.oneof_index for f in msg.field if f.proto3_optional}
        emitted_oneofs: set[int] = set()
        for f in msg.field:
            in_oneof = f.HasField("oneof_index") and f.oneof_index not in synthetic
            if not in_oneof:
                self.emit_field(f, depth + 1, features, full, maps, in_oneof=False)
                continue
            if f.oneof_index in emitted_oneofs:
                continue
            emitted_oneofs.add(f.oneof_index)
            oneof = msg.oneof_decl[f.oneof_index]
            oneof_features = resolve(features, oneof.options.features)
            self.out(depth + 1, f"oneof {oneof.name} {{")
            for member in msg.field:
                if member.HasField("oneof_index") and member.oneof_index == f.oneof_index:
                    self.emit_field(member, depth + 2, oneof_features, full, maps, in_oneof=True)
            self.out(depth + 1, "}")
        self.emit_reserved(msg.reserved_range, msg.reserved_name, depth + 1, end_inclusive=False)
        self.out(depth, "}")

    def field_type(self, f: FDP) -> str:
        if f.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            return self.type_ref(f.type_name)
        if f.type == FDP.TYPE_GROUP:
            raise SystemExit(f"group field {f.name} cannot be expressed in proto3")
        return SCALAR_NAMES[f.type]

    def emit_field(self, f: FDP, depth: int, parent: dict, msg_full: str, maps: dict, *, in_oneof: bool) -> None:
        name = f"{msg_full}.{f.name}"
        features = resolve(parent, f.options.features)
        if features["message_encoding"] == FeatureSet.DELIMITED and f.type == FDP.TYPE_MESSAGE:
            self.notes.problems.append(f"{name}: DELIMITED (group) encoding cannot be expressed in proto3")
        if features["utf8_validation"] != FeatureSet.VERIFY and f.type == FDP.TYPE_STRING:
            self.notes.problems.append(f"{name}: utf8_validation NONE cannot be expressed in proto3")
        if f.label == FDP.LABEL_REQUIRED or features["field_presence"] == FeatureSet.LEGACY_REQUIRED:
            self.notes.problems.append(f"{name}: required fields cannot be expressed in proto3")
        if f.HasField("default_value"):
            self.notes.problems.append(f"{name}: default values cannot be expressed in proto3")

        options = []
        if f.options.deprecated:
            self.notes.dropped_options.append(f"{name}: deprecated = true")
        for ext, value in f.options.ListFields():
            if ext.is_extension:
                self.notes.dropped_options.append(f"{name}: ({ext.full_name}) = {value}")
        if f.json_name and f.json_name != camel_case(f.name):
            options.append(f'json_name = "{f.json_name}"')

        repeated = f.label == FDP.LABEL_REPEATED
        if repeated and f.type_name in maps:
            entry = maps[f.type_name]
            key, value = entry.field[0], entry.field[1]
            decl = f"map<{self.field_type(key)}, {self.field_type(value)}> {f.name} = {f.number}"
        else:
            label = ""
            if repeated:
                label = "repeated "
                if f.type in PACKABLE and features["repeated_field_encoding"] == FeatureSet.EXPANDED:
                    options.append("packed = false")
                    self.notes.expanded.append(name)
            elif f.proto3_optional or (
                not in_oneof
                and f.type != FDP.TYPE_MESSAGE
                and features["field_presence"] == FeatureSet.EXPLICIT
            ):
                label = "optional "
                self.notes.explicit_presence.append(name)
            decl = f"{label}{self.field_type(f)} {f.name} = {f.number}"
        suffix = f" [{', '.join(options)}]" if options else ""
        self.out(depth, f"{decl}{suffix};")

    def emit_service(self, svc: descriptor_pb2.ServiceDescriptorProto) -> None:
        self.out(0, f"service {svc.name} {{")
        for rpc in svc.method:
            req = ("stream " if rpc.client_streaming else "") + self.type_ref(rpc.input_type)
            resp = ("stream " if rpc.server_streaming else "") + self.type_ref(rpc.output_type)
            self.out(1, f"rpc {rpc.name}({req}) returns ({resp});")
        self.out(0, "}")


def source_distribution(file_name: str) -> str:
    dist = "opentelemetry-proto" if file_name.startswith(OTEL_PREFIX) else "tilebox-workflows"
    return f"{dist}=={importlib.metadata.version(dist)}"


def camel_case(name: str) -> str:
    """protoc's default json_name."""
    out, upper = [], False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


# --- verification -------------------------------------------------------------------------------------


def compile_descriptor_set(out_dir: Path, files: list[str]) -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "set.pb"
        cmd = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{out_dir}",
            "--include_imports",
            f"--descriptor_set_out={target}",
            *files,
        ]
        subprocess.run(cmd, check=True)
        return descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())


def field_facts(f: descriptor.FieldDescriptor) -> dict:
    oneof = f.containing_oneof
    real_oneof = None
    if oneof is not None and not (len(oneof.fields) == 1 and oneof.name == f"_{f.name}" and f.has_presence):
        real_oneof = oneof.name
    target = f.message_type or f.enum_type
    return {
        "number": f.number,
        "type": f.type,
        "repeated": f.is_repeated,
        "required": f.is_required,
        "type_name": target.full_name if target else None,
        "has_presence": f.has_presence,
        "packed": f.is_packed,
        "oneof": real_oneof,
        "map": bool(f.message_type and f.message_type.GetOptions().map_entry),
        "json_name": f.json_name,
    }


def compare_message(a: descriptor.Descriptor, b: descriptor.Descriptor, diffs: list[str]) -> None:
    names = sorted(set(a.fields_by_name) | set(b.fields_by_name))
    for name in names:
        fa, fb = a.fields_by_name.get(name), b.fields_by_name.get(name)
        if fa is None or fb is None:
            diffs.append(f"{a.full_name}.{name}: present only in {'derived' if fa is None else 'original'}")
            continue
        facts_a, facts_b = field_facts(fa), field_facts(fb)
        for key in facts_a:
            if facts_a[key] != facts_b[key]:
                diffs.append(f"{a.full_name}.{name}: {key} original={facts_a[key]!r} derived={facts_b[key]!r}")
    nested = sorted(set(a.nested_types_by_name) | set(b.nested_types_by_name))
    for name in nested:
        na, nb = a.nested_types_by_name.get(name), b.nested_types_by_name.get(name)
        if na is None or nb is None:
            diffs.append(f"{a.full_name}.{name}: nested message only in {'derived' if na is None else 'original'}")
        else:
            compare_message(na, nb, diffs)
    for name in sorted(set(a.enum_types_by_name) | set(b.enum_types_by_name)):
        compare_enum(a.enum_types_by_name.get(name), b.enum_types_by_name.get(name), f"{a.full_name}.{name}", diffs)


def compare_enum(a, b, full: str, diffs: list[str]) -> None:
    if a is None or b is None:
        diffs.append(f"{full}: enum only in {'derived' if a is None else 'original'}")
        return
    va = [(v.name, v.number) for v in a.values]
    vb = [(v.name, v.number) for v in b.values]
    if va != vb:
        diffs.append(f"{full}: values original={va} derived={vb}")
    if a.is_closed != b.is_closed:
        diffs.append(f"{full}: is_closed original={a.is_closed} derived={b.is_closed}")


def verify(out_dir: Path, originals: dict[str, descriptor_pb2.FileDescriptorProto]) -> list[str]:
    compiled = compile_descriptor_set(out_dir, list(originals))
    pool = descriptor_pool.DescriptorPool()
    for fd in compiled.file:
        pool.AddSerializedFile(fd.SerializeToString())
    default = descriptor_pool.Default()
    diffs: list[str] = []
    for name, fd in originals.items():
        a, b = default.FindFileByName(name), pool.FindFileByName(name)
        if a.package != b.package:
            diffs.append(f"{name}: package original={a.package} derived={b.package}")
        kinds = [
            ("message", a.message_types_by_name, b.message_types_by_name),
            ("enum", a.enum_types_by_name, b.enum_types_by_name),
            ("service", a.services_by_name, b.services_by_name),
        ]
        for kind, ma, mb in kinds:
            if set(ma) != set(mb):
                diffs.append(f"{name}: {kind}s original={sorted(ma)} derived={sorted(mb)}")
        for msg_name, ma in a.message_types_by_name.items():
            if msg_name in b.message_types_by_name:
                compare_message(ma, b.message_types_by_name[msg_name], diffs)
        for enum_name, ea in a.enum_types_by_name.items():
            compare_enum(ea, b.enum_types_by_name.get(enum_name), ea.full_name, diffs)
        for svc_name, sa in a.services_by_name.items():
            sb = b.services_by_name.get(svc_name)
            if sb is None:
                continue
            ra = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in sa.methods}
            rb = {m.name: (m.input_type.full_name, m.output_type.full_name) for m in sb.methods}
            if ra != rb:
                diffs.append(f"{sa.full_name}: rpcs original={ra} derived={rb}")
            for m in sa.methods:
                mb = sb.methods_by_name.get(m.name)
                pa = descriptor_pb2.MethodDescriptorProto()
                m.CopyToProto(pa)
                if mb is not None:
                    pb = descriptor_pb2.MethodDescriptorProto()
                    mb.CopyToProto(pb)
                    if (pa.client_streaming, pa.server_streaming) != (pb.client_streaming, pb.server_streaming):
                        diffs.append(f"{m.full_name}: streaming differs")
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=repo / "server" / "proto")
    parser.add_argument("--verify", action="store_true", help="compile the output and diff it against the originals")
    args = parser.parse_args()

    notes = Notes()
    files = collect_files()
    for name, fd in files.items():
        target = args.out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Emitter(fd, notes).emit())
        print(f"wrote {target}")

    for title, items in [
        ("dropped imports", notes.dropped_imports),
        ("dropped options (no wire effect)", notes.dropped_options),
        ("fields with explicit presence (emitted as `optional`)", notes.explicit_presence),
        ("repeated fields with EXPANDED encoding", notes.expanded),
        ("PROBLEMS", notes.problems),
    ]:
        print(f"\n{title}: {len(items)}")
        for item in items:
            print(f"  {item}")
    if notes.problems:
        return 1

    if args.verify:
        diffs = verify(args.out, files)
        print(f"\ndescriptor diff: {len(diffs)} difference(s)")
        for d in diffs:
            print(f"  {d}")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
