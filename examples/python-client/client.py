"""Query and subscribe to the e-commerce pipeline over gRPC, with stubs generated from the protos
`dozerc build` emits (see README.md here).

    python client.py [--address 127.0.0.1:50051] [--token JWT] [--follow SECONDS]

Prints the five best customers by lifetime value (typed service), the number of countries
(count), the daily totals (common service, dynamically typed), then follows changes to the
`customer_lifetime_value` endpoint for a while.
"""

import argparse
import json

import grpc

from dozer import common_pb2, common_pb2_grpc, types_pb2
from dozer.generated import customer_lifetime_value_pb2 as clv
from dozer.generated import customer_lifetime_value_pb2_grpc as clv_grpc
from dozer.generated import sales_by_country_pb2 as countries
from dozer.generated import sales_by_country_pb2_grpc as countries_grpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--token", help="a JWT from `dozerc token`, when the API is secured")
    parser.add_argument("--follow", type=float, default=30, help="seconds of OnEvent to print")
    args = parser.parse_args()
    metadata = [("authorization", "Bearer " + args.token)] if args.token else None

    with grpc.insecure_channel(args.address) as channel:
        # The typed service of one endpoint: records are messages with one field per column.
        customers = clv_grpc.CustomerLifetimeValueServiceStub(channel)
        query = {"$order_by": {"LifetimeValue": "desc"}, "$limit": 5}
        reply = customers.query(clv.QueryRequest(query=json.dumps(query)), metadata=metadata)
        print("best customers:")
        for record in reply.records:
            customer = record.customer_id if record.HasField("customer_id") else "(none)"
            print(f"  {customer}: {record.lifetime_value.value}")

        count = countries_grpc.SalesByCountryServiceStub(channel).count(
            countries.QueryRequest(), metadata=metadata
        )
        print(f"countries: {count.count}")

        # The common service: any endpoint by name, values typed at run time.
        common = common_pb2_grpc.CommonGrpcServiceStub(channel)
        daily = common.query(common_pb2.QueryRequest(endpoint="daily_sales"), metadata=metadata)
        names = [field.name for field in daily.fields]
        for record in daily.records:
            values = [getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None
                      for v in record.values]
            row = dict(zip(names, values))
            print(f"day {row['start'].ToJsonString()}: {row['total_sales'].value}")

        # Live changes: every insert, update and delete committed from now on. The response
        # headers arrive once the subscription is in place.
        events = customers.OnEvent(clv.EventRequest(), metadata=metadata, timeout=args.follow)
        try:
            events.initial_metadata()
            print(f"following customer_lifetime_value for {args.follow:g}s ...", flush=True)
            for event in events:
                kind = types_pb2.OperationType.Name(event.typ)
                row = event.new if event.HasField("new") else event.old
                print(f"  {kind} customer {row.customer_id} = {row.lifetime_value.value}"
                      f" (commit {event.position.commit}, {event.position.source}"
                      f" {event.position.offset})")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise


if __name__ == "__main__":
    main()
