"""A real gRPC client of a dozerc pipeline, for the end-to-end tests (tests/tests/grpc_api.rs).

Its stubs are generated from the protos the pipeline's crate emits (grpcio-tools); the Rust test
puts them on PYTHONPATH. Every command prints JSON on stdout for the test to check:

    check ADDR SPEC          queries, counts, pages, errors, health and reflection
    subscribe ADDR SPEC N    OnEvent: prints "ready" once subscribed, then N events (one per line)

SPEC is a JSON object: {"endpoints": [{"name", "module", "service"}], "filter": ..., "token": ...}.
"""

import importlib
import json
import sys

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dozer import common_pb2, common_pb2_grpc, types_pb2


def typed_value(message, field):
    """A field of a typed record as the REST API's JSON shows it."""
    if field.message_type is None:
        if field.has_presence and not message.HasField(field.name):
            return None
        return getattr(message, field.name)
    if not message.HasField(field.name):
        return None
    value = getattr(message, field.name)
    kind = field.message_type.full_name
    if kind == "dozer.types.Decimal":
        return value.value
    if kind == "google.protobuf.Timestamp":
        return value.ToJsonString()
    if kind == "dozer.types.Date":
        return "%04d-%02d-%02d" % (value.year, value.month, value.day)
    return json_format.MessageToDict(value)


def typed_row(record):
    return {f.json_name: typed_value(record, f) for f in record.DESCRIPTOR.fields}


def common_value(value):
    which = value.WhichOneof("value")
    if which is None:
        return None
    inner = getattr(value, which)
    if which == "decimal_value":
        return inner.value
    if which == "timestamp_value":
        return inner.ToJsonString()
    if which == "date_value":
        return "%04d-%02d-%02d" % (inner.year, inner.month, inner.day)
    if which == "json_value":
        return json_format.MessageToDict(inner)
    return inner


def typed_stub(channel, endpoint):
    module = importlib.import_module("dozer.generated.%s_pb2" % endpoint["module"])
    services = importlib.import_module("dozer.generated.%s_pb2_grpc" % endpoint["module"])
    return module, getattr(services, endpoint["service"] + "Stub")(channel)


def error_of(call):
    try:
        call()
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details()}
    return {"code": "OK", "details": ""}


def check(channel, spec, metadata):
    out = {"typed": {}, "common": {}, "count": {}, "pages": {}, "errors": {}, "commit": {}}
    common = common_pb2_grpc.CommonGrpcServiceStub(channel)
    for endpoint in spec["endpoints"]:
        name = endpoint["name"]
        module, stub = typed_stub(channel, endpoint)
        everything = json.dumps({"$limit": 10000})
        reply = stub.query(module.QueryRequest(query=everything), metadata=metadata)
        out["typed"][name] = [typed_row(r) for r in reply.records]
        out["commit"][name] = reply.commit
        out["count"][name] = stub.count(module.QueryRequest(), metadata=metadata).count
        reply = common.query(
            common_pb2.QueryRequest(endpoint=name, query=everything), metadata=metadata
        )
        names = [f.name for f in reply.fields]
        out["common"][name] = [
            dict(zip(names, [common_value(v) for v in r.values])) for r in reply.records
        ]
        # Pages of 3 rows, each continuing from the previous page's cursor.
        pages, cursor = [], None
        while True:
            query = {"$limit": 3}
            if cursor:
                query["$after"] = cursor
            page = stub.query(module.QueryRequest(query=json.dumps(query)), metadata=metadata)
            pages.append([typed_row(r) for r in page.records])
            if not page.HasField("next_cursor") or len(pages) > 1000:
                break
            cursor = page.next_cursor
        out["pages"][name] = pages
        bad = {
            "unknown field": '{"$filter": {"no_such_column": 1}}',
            "wrong type": '{"$filter": {"%s": {"$gt": [1]}}}' % names[0],
            "malformed JSON": '{"$filter": ',
            "oversized limit": '{"$limit": 1000000}',
            "bad cursor": '{"$after": "not-a-cursor"}',
        }
        out["errors"][name] = {
            case: error_of(lambda q=q: stub.query(module.QueryRequest(query=q), metadata=metadata))
            for case, q in bad.items()
        }
    out["errors"]["unknown endpoint"] = error_of(
        lambda: common.query(common_pb2.QueryRequest(endpoint="no_such_endpoint"), metadata=metadata)
    )
    out["endpoints"] = list(
        common.getEndpoints(common_pb2.GetEndpointsRequest(), metadata=metadata).endpoints
    )
    fields = common.getFields(
        common_pb2.GetFieldsRequest(endpoint=spec["endpoints"][0]["name"]), metadata=metadata
    )
    out["fields"] = {
        "primary_index": list(fields.primary_index),
        "fields": [json_format.MessageToDict(f) for f in fields.fields],
    }
    health = health_pb2_grpc.HealthStub(channel)
    out["health"] = {
        service: health_pb2.HealthCheckResponse.ServingStatus.Name(
            health.Check(health_pb2.HealthCheckRequest(service=service)).status
        )
        for service in [""] + ["dozer.common.CommonGrpcService"]
        + ["dozer.generated.%s.%s" % (e["module"], e["service"]) for e in spec["endpoints"]]
    }
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    listed = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    out["services"] = sorted(
        s.name for reply in listed for s in reply.list_services_response.service
    )
    return out


def subscribe(channel, spec, count, metadata):
    endpoint = spec["endpoints"][0]
    module, stub = typed_stub(channel, endpoint)
    request = module.EventRequest()
    if spec.get("filter") is not None:
        request.filter = json.dumps(spec["filter"])
    call = stub.OnEvent(request, metadata=metadata, timeout=spec.get("timeout", 60))
    # Headers arrive once the server has subscribed: changes made from now on are delivered.
    call.initial_metadata()
    print("ready", flush=True)
    seen = 0
    try:
        for event in call:
            print(
                json.dumps(
                    {
                        "typ": types_pb2.OperationType.Name(event.typ),
                        "old": typed_row(event.old) if event.HasField("old") else None,
                        "new": typed_row(event.new) if event.HasField("new") else None,
                        "position": json_format.MessageToDict(
                            event.position, preserving_proto_field_name=True
                        ),
                    }
                ),
                flush=True,
            )
            seen += 1
            if seen >= count:
                call.cancel()
                break
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.CANCELLED:
            print(json.dumps({"error": e.code().name, "details": e.details()}), flush=True)


def main():
    command, address, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    metadata = [("authorization", "Bearer " + spec["token"])] if spec.get("token") else None
    with grpc.insecure_channel(address) as channel:
        if command == "check":
            print(json.dumps(check(channel, spec, metadata)))
        elif command == "subscribe":
            subscribe(channel, spec, int(sys.argv[4]), metadata)
        else:
            sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
