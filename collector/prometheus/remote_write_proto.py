"""Prometheus remote write 1.0's `WriteRequest`, as protobuf messages built at import.

The messages are those of prometheus/prompb (types.proto, remote.proto): a request holds
time series, each a list of labels and a list of (value, timestamp ms) samples. They are
described here as a FileDescriptorProto instead of generated `_pb2` code, so no protoc
output (tied to one protobuf release) is kept in the tree; the protobuf library does every
byte of the encoding. Only `collector.prometheus.remote_write` imports this module, lazily,
so a collector without `remote_write` never loads protobuf.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FILE = "slawitness/prompb_remote.proto"
_PACKAGE = "prometheus"

Field = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    """prompb's Label, Sample, TimeSeries and WriteRequest, with prompb's field numbers."""
    proto = descriptor_pb2.FileDescriptorProto(name=_FILE, package=_PACKAGE, syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        described = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = described.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    optional, repeated = Field.LABEL_OPTIONAL, Field.LABEL_REPEATED
    message("Label", [("name", 1, Field.TYPE_STRING, optional, ""),
                      ("value", 2, Field.TYPE_STRING, optional, "")])  # fmt: skip
    message("Sample", [("value", 1, Field.TYPE_DOUBLE, optional, ""),
                       ("timestamp", 2, Field.TYPE_INT64, optional, "")])  # fmt: skip
    message("TimeSeries", [
        ("labels", 1, Field.TYPE_MESSAGE, repeated, f".{_PACKAGE}.Label"),
        ("samples", 2, Field.TYPE_MESSAGE, repeated, f".{_PACKAGE}.Sample"),
    ])  # fmt: skip
    message("WriteRequest", [
        ("timeseries", 1, Field.TYPE_MESSAGE, repeated, f".{_PACKAGE}.TimeSeries"),
    ])  # fmt: skip
    return proto


def _classes() -> dict[str, Any]:
    """The message classes, from a pool of our own so no other prompb copy can clash."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file())
    described = pool.FindFileByName(_FILE)
    return {
        name: message_factory.GetMessageClass(described.message_types_by_name[name])
        for name in ("WriteRequest", "TimeSeries")
    }


_CLASSES = _classes()
WriteRequest: Any = _CLASSES["WriteRequest"]
"""prometheus.WriteRequest: `timeseries` of labels and samples."""

Labels = tuple[tuple[str, str], ...]
"""One series' labels, `__name__` among them, sorted by name as remote write asks."""


def write_request(series: dict[Labels, list[tuple[int, float]]]) -> bytes:
    """The serialized WriteRequest for {labels: [(timestamp ms, value), ...]}."""
    request = WriteRequest()
    for labels, samples in series.items():
        described = request.timeseries.add()
        for name, text in sorted(labels):
            described.labels.add(name=name, value=text)
        for stamp_ms, value in sorted(samples):
            described.samples.add(value=value, timestamp=stamp_ms)
    data: bytes = request.SerializeToString()
    return data
