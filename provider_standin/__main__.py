"""``python -m provider_standin --port N``: serve the stand-in until Ctrl-C."""

from __future__ import annotations

import argparse

from provider_standin.recorder import Recorder
from provider_standin.scripts import Behaviour, Script, ScriptBook
from provider_standin.server import _listening_socket, build_app, make_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m provider_standin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--deltas", type=int, default=64)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument(
        "--behaviour", choices=[b.value for b in Behaviour], default="normal"
    )
    args = parser.parse_args(argv)

    default = Script(
        behaviour=Behaviour(args.behaviour),
        deltas=args.deltas,
        interval_s=args.interval_ms / 1000,
    )
    server = make_server(build_app(ScriptBook(default), Recorder()), "info")
    sock = _listening_socket(args.host, args.port)
    print(
        f"provider stand-in on http://{args.host}:{sock.getsockname()[1]}", flush=True
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
