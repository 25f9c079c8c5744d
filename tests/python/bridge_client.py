#!/usr/bin/env python3
"""A bridge-protocol client written from proto/sipass_bridge.proto alone.

Generates the Python code from the .proto files, connects to a proxy over TLS trusting only
the proxy's CA, sends the shared token on every call, says Hello (again, while the proxy is
still loading SiPass) and lists every cardholder page by page. Prints a JSON summary. Needs
grpcio and grpcio-tools (scripts/test installs them).
"""
import argparse
import json
import pathlib
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc


def generate(proto_dir: pathlib.Path, out_dir: pathlib.Path) -> None:
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    # The health proto from its own folder, so that its module does not land in the `grpc`
    # package of grpcio.
    for root, proto in [(proto_dir, "sipass_bridge.proto"),
                        (proto_dir / "grpc/health/v1", "health.proto")]:
        status = protoc.main([
            "protoc",
            f"-I{root}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(root / proto),
        ])
        if status != 0:
            sys.exit(f"protoc failed with status {status} on {proto}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, help="proxy host:port")
    parser.add_argument("--ca", required=True, help="the proxy's CA certificate (PEM)")
    parser.add_argument("--token-file", required=True, help="file holding the bridge token")
    parser.add_argument("--proto-dir", required=True, help="folder of sipass_bridge.proto")
    args = parser.parse_args()

    out_dir = pathlib.Path(tempfile.mkdtemp(prefix="bridge-py-"))
    generate(pathlib.Path(args.proto_dir), out_dir)
    sys.path.insert(0, str(out_dir))
    import sipass_bridge_pb2 as pb
    import sipass_bridge_pb2_grpc as rpc
    import health_pb2
    import health_pb2_grpc

    credentials = grpc.ssl_channel_credentials(root_certificates=pathlib.Path(args.ca).read_bytes())
    token = pathlib.Path(args.token_file).read_text().strip()
    metadata = [("authorization", f"Bearer {token}")]
    with grpc.secure_channel(args.target, credentials) as channel:
        bridge = rpc.BridgeStub(channel)
        # A proxy still reading SiPass says so in Hello; List would answer UNAVAILABLE.
        deadline = time.monotonic() + 120
        while True:
            hello = bridge.Hello(
                pb.HelloRequest(product_version="0.1.0", protocol_version=1, client_name="python"),
                metadata=metadata,
                timeout=10,
            )
            if not hello.HasField("loading") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        ids, page_token = [], ""
        while True:
            page = bridge.List(
                pb.ListRequest(kind=pb.ENTITY_KIND_CARDHOLDER, page_size=50, page_token=page_token),
                metadata=metadata,
                timeout=10,
            )
            ids.extend(entity.id for entity in page.entities)
            page_token = page.next_page_token
            if not page_token:
                break
        # The standard health service answers without the token.
        health = health_pb2_grpc.HealthStub(channel)
        serving = {
            name or "(server)": health_pb2.HealthCheckResponse.ServingStatus.Name(
                health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
            )
            for name in ["", "sipassbridge.v1.Bridge"]
        }
    print(json.dumps({
        "health": serving,
        "product_version": hello.product_version,
        "protocol_version": hello.protocol_version,
        "sipass_version": hello.sipass_version,
        "cardholders": len(ids),
        "distinct_ids": len(set(ids)),
    }))


if __name__ == "__main__":
    main()
