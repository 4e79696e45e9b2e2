"""Interop with the official Python MCP SDK 2.x (PyPI `mcp` 2.3.0) through the gateway.

Run by scripts/interop-python.sh inside the venv it prepares; not meant to be run by hand
without that venv (it imports `mcp`).

    interop_python.py --gateway GW --time-cmd CMD --everything-cmd CMD --logs DIR [CASE ...]

Every case starts its own gateway (`GW --stdio CHILD ...`), because a dual-era child locks
its era at the first request it sees, then drives `mcp.Client(..., mode=MODE)`: list the
tools, call one, compare the exact result text, and report the protocol version the SDK
settled on. A CASE argument selects the cases whose name contains it.

One line per case, `PASS|FAIL|XFAIL|XPASS name: detail`, then `N passed, N failed`.
Exit status 0 iff every case passed, or failed while listed in XFAIL below.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import anyio

# Cases the gateway cannot serve (none today). An XFAIL case that passes is reported as
# XPASS and counts as a failure, so this list only holds what is known to fail.
XFAIL: frozenset[str] = frozenset()

# "bridge": the SDK over stdio to our `--streamableHttp` bridge, in front of a stateless
# Streamable HTTP gateway (the bridge's relay finds the era of that server itself).
TRANSPORTS = ("streamable-stateless", "streamable-stateful", "sse", "bridge")
SERVERS = ("time", "everything")
# Through the bridge only: our conformance fixture as a 2026-07-28-only server
# (CONFORMANCE_FIXTURE_ERA=modern: it refuses `initialize`), behind the gateway; the case
# also answers an elicitation the server asks for with an InputRequiredResult.
MODERN_ONLY = "modern-only"
MODES = ("legacy", "2026-07-28", "auto")
MODERN = "2026-07-28"
# Over TLS (`--tlsCert`/`--tlsKey`, a test CA the SDK trusts through SSL_CERT_FILE): the
# served transports in front of both children, mode auto.
TLS = "tls-"
TLS_TRANSPORTS = ("tls-streamable-stateless", "tls-streamable-stateful", "tls-sse")

# Bounds. A case that exceeds CASE_S fails; the SDK's own server/discover probe waits up to
# 10 s, so a gateway that never answers it still leaves time for the fallback handshake.
LISTEN_S = 10.0
REQUEST_S = 15.0
CASE_S = 30.0
# No case starts after this many seconds of the run (those left are failures), so that the
# whole run ends within BUDGET_S + CASE_S + a few seconds of stopping a gateway.
BUDGET_S = 150.0

# mcp-server-time's tool, asked about a zone without daylight saving time so that the
# expected text depends on the clock only.
TIME_ZONE = "Asia/Tokyo"
TIME_TOOLS = ["convert_time", "get_current_time"]


@dataclass(frozen=True)
class Case:
    transport: str
    server: str
    mode: str

    @property
    def name(self) -> str:
        return f"{self.transport}/{self.server}/{self.mode}"


class CaseError(Exception):
    """A check of a case failed; the message says which and what arrived instead."""


def all_cases() -> list[Case]:
    cases = [Case(t, s, m) for t in TRANSPORTS for s in SERVERS for m in MODES]
    cases += [Case("bridge", MODERN_ONLY, m) for m in MODES]
    return cases + [Case(t, s, "auto") for t in TLS_TRANSPORTS for s in SERVERS]


def plain(transport: str) -> str:
    """The transport a TLS case runs over TLS."""
    return transport.removeprefix(TLS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def innermost(exc: BaseException) -> BaseException:
    """The error itself: the SDK's task groups wrap it in ExceptionGroups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str:
    exc = innermost(exc)
    return f"{type(exc).__name__}: {exc}"


class Gateway:
    """One gateway process in its own process group, its output in a log file."""

    def __init__(
        self, gw: str, case: Case, child: str, log: Path, pgid_file: Path, tls_dir: str = ""
    ) -> None:
        self.port = free_port()
        self.scheme = "https" if case.transport.startswith(TLS) else "http"
        transport = plain(case.transport)
        args = [gw, "--stdio", child]
        if transport.startswith("streamable") or transport == "bridge":
            args += ["--outputTransport", "streamableHttp"]
        if transport == "streamable-stateful":
            args.append("--stateful")
        if self.scheme == "https":
            args += ["--tlsCert", f"{tls_dir}/cert.pem", "--tlsKey", f"{tls_dir}/key.pem"]
        args += ["--port", str(self.port)]
        self.log = log
        with open(log, "wb") as out:
            out.write(("$ " + " ".join(args) + "\n").encode())
            out.flush()
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        # For interop-python.sh, should this driver be killed before it can stop the group.
        self.pgid_file = pgid_file
        pgid_file.write_text(f"{self.proc.pid}\n")

    def url(self, transport: str) -> str:
        path = "/sse" if plain(transport) == "sse" else "/mcp"
        # `localhost`: the name the test certificate is for (and 127.0.0.1 is bound).
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}{path}"

    def wait_listening(self) -> None:
        deadline = time.monotonic() + LISTEN_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CaseError(f"gateway exited ({self.proc.returncode}) before listening; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)  # polling a port, not synchronising with a sleep
        raise CaseError(f"gateway did not listen on port {self.port} within {LISTEN_S:.0f}s")

    def stop(self) -> None:
        """SIGTERM the group (the gateway and the child it started), SIGKILL what is left."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.pgid_file.unlink(missing_ok=True)


def time_texts(before: dt.datetime, after: dt.datetime) -> set[str]:
    """Every text get_current_time may have returned between two instants: one per second."""
    tz = zoneinfo.ZoneInfo(TIME_ZONE)
    texts = set()
    t = before.astimezone(tz).replace(microsecond=0)
    while t <= after.astimezone(tz):
        body = {
            "timezone": TIME_ZONE,
            "datetime": t.isoformat(timespec="seconds"),
            "day_of_week": t.strftime("%A"),
            "is_dst": False,
        }
        texts.add(json.dumps(body, indent=2))
        t += dt.timedelta(seconds=1)
    return texts


def only_text(result: object, what: str) -> str:
    """The single text content of a tool result that is not an error."""
    from mcp_types import TextContent

    if getattr(result, "is_error", False):
        raise CaseError(f"{what} returned an error result: {one_line(repr(result))}")
    content = getattr(result, "content", None)
    if not content or len(content) != 1 or not isinstance(content[0], TextContent):
        raise CaseError(f"{what}: expected exactly one text content, got {one_line(repr(content))}")
    return content[0].text


async def exercise(case: Case, url: str, args: argparse.Namespace) -> str:
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    if plain(case.transport) == "sse":
        target = sse_client(url)
    elif case.transport == "bridge":
        bridge_log = open(Path(args.logs) / (case.name.replace("/", "_") + ".bridge.log"), "w")  # noqa: SIM115
        params = StdioServerParameters(command=args.gateway, args=["--streamableHttp", url])
        target = stdio_client(params, errlog=bridge_log)
    else:
        target = url
    from mcp_types import ElicitResult

    asked: list[str] = []

    async def elicit(_context: object, params: object) -> ElicitResult:
        asked.append(getattr(params, "message", ""))
        return ElicitResult(action="accept", content={"name": "Py"})

    stage = "connect"
    try:
        async with Client(
            target, mode=case.mode, read_timeout_seconds=REQUEST_S, elicitation_callback=elicit
        ) as client:
            era = client.protocol_version
            stage = "tools/list"
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            if case.server == "time":
                if tools != TIME_TOOLS:
                    raise CaseError(f"tools/list: expected {TIME_TOOLS}, got {tools}")
                stage = "tools/call get_current_time"
                before = dt.datetime.now(dt.timezone.utc)
                result = await client.call_tool("get_current_time", {"timezone": TIME_ZONE})
                after = dt.datetime.now(dt.timezone.utc)
                text = only_text(result, stage)
                if text not in time_texts(before, after):
                    raise CaseError(f"{stage}: unexpected text {one_line(text)!r}")
                called = "get_current_time ok"
            elif case.server == MODERN_ONLY:
                flow = "test_input_required_result_elicitation"
                if flow not in tools or "test_simple_text" not in tools:
                    raise CaseError(f"tools/list lacks the fixture's tools (got {len(tools)})")
                stage = "tools/call test_simple_text"
                text = only_text(await client.call_tool("test_simple_text", {}), stage)
                if text != "This is a simple text response for testing.":
                    raise CaseError(f"{stage}: unexpected text {one_line(text)!r}")
                stage = f"tools/call {flow}"
                text = only_text(await client.call_tool(flow, {}), stage)
                if text != "Hello, Py!" or asked != ["What is your name?"]:
                    raise CaseError(f"{stage}: got {one_line(text)!r} after questions {asked}")
                called = "elicitation round ok"
            else:
                if "echo" not in tools:
                    raise CaseError(f"tools/list has no 'echo' (got {tools})")
                stage = "tools/call echo"
                token = f"py-interop-{uuid.uuid4()}"
                text = only_text(await client.call_tool("echo", {"message": token}), stage)
                if text != f"Echo: {token}":
                    raise CaseError(f"{stage}: expected {'Echo: ' + token!r}, got {one_line(text)!r}")
                called = "echo ok"
    except Exception as exc:  # noqa: BLE001 - every SDK failure becomes this case's detail
        # (Exception only: the case deadline's cancellation must pass through.)
        if isinstance(innermost(exc), CaseError):
            raise innermost(exc) from None
        raise CaseError(f"{stage}: {describe(exc)}") from exc

    # The era checks: a pinned mode never probes, so its version says nothing about the wire
    # (the calls above do); `auto` and `legacy` report what the server answered.
    if case.mode == "legacy" and era not in HANDSHAKE_PROTOCOL_VERSIONS:
        raise CaseError(f"mode=legacy settled on {era!r}, not a handshake-era version")
    if case.mode == MODERN and era != MODERN:
        raise CaseError(f"mode={MODERN} settled on {era!r}")
    # The gateway serves 2026-07-28 in front of either child (it translates for a legacy
    # one), so `auto` must settle on it.
    if case.mode == "auto" and era != MODERN:
        raise CaseError(f"mode=auto settled on {era!r} (want {MODERN}: the gateway serves it)")
    return f"era {era}, {len(tools)} tools, {called}"


def run_case(case: Case, args: argparse.Namespace) -> str:
    if case.server == MODERN_ONLY and not args.conformance_cmd:
        raise CaseError("no conformance-server (cargo build --example conformance-server)")
    child = {
        "time": args.time_cmd,
        "everything": args.everything_cmd,
        MODERN_ONLY: f"env CONFORMANCE_FIXTURE_ERA=modern {args.conformance_cmd}",
    }[case.server]
    if case.transport.startswith(TLS) and not args.tls_dir:
        raise CaseError("no test certificate (interop-python.sh makes one with openssl)")
    log = Path(args.logs) / (case.name.replace("/", "_") + ".log")
    gw = Gateway(args.gateway, case, child, log, Path(args.logs) / "gateway.pgid", args.tls_dir)
    try:
        gw.wait_listening()

        async def bounded() -> str:
            with anyio.fail_after(CASE_S):
                return await exercise(case, gw.url(case.transport), args)

        try:
            return anyio.run(bounded)
        except TimeoutError as exc:
            raise CaseError(f"no result within {CASE_S:.0f}s") from exc
    finally:
        gw.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gateway", required=True)
    p.add_argument("--time-cmd", required=True, help="shell command of mcp-server-time (stdio)")
    p.add_argument("--everything-cmd", required=True, help="shell command of server-everything (stdio)")
    p.add_argument("--logs", required=True, help="folder for one gateway log per case")
    p.add_argument("--conformance-cmd", default="", help="our conformance-server example (stdio)")
    p.add_argument(
        "--tls-dir", default="", help="ca.pem, and cert.pem + key.pem for localhost (the TLS cases)"
    )
    p.add_argument("cases", nargs="*", help="run only the cases whose name contains one of these")
    args = p.parse_args()
    Path(args.logs).mkdir(parents=True, exist_ok=True)
    if args.tls_dir:
        # httpx (through the SDK) trusts the test CA by this variable only.
        os.environ["SSL_CERT_FILE"] = f"{args.tls_dir}/ca.pem"

    unknown = XFAIL - {c.name for c in all_cases()}
    if unknown:
        print(f"interop_python.py: XFAIL names no case: {sorted(unknown)}", file=sys.stderr)
        return 2
    cases = [c for c in all_cases() if not args.cases or any(f in c.name for f in args.cases)]
    if not cases:
        print("interop_python.py: no case matches", file=sys.stderr)
        return 2

    # `timeout` (interop-python.sh) sends SIGTERM: unwind, so that `finally` stops the gateway.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("interop_python.py: terminated"))

    passed = failed = xfailed = 0
    start = time.monotonic()
    for case in cases:
        t0 = time.monotonic()
        # A case never run is a failure even when listed: XFAIL vouches for a result.
        expected_failure = case.name in XFAIL and t0 - start <= BUDGET_S
        try:
            if t0 - start > BUDGET_S:
                raise CaseError(f"not started: the run's {BUDGET_S:.0f}s budget is spent")
            detail = run_case(case, args)
            ok = True
        except CaseError as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # noqa: BLE001 - a bug in this driver is still one case's failure
            detail, ok = f"driver error: {describe(exc)}", False
            traceback.print_exc(file=sys.stderr)
        took = f" ({time.monotonic() - t0:.1f}s)"
        if ok and not expected_failure:
            verdict, passed = "PASS", passed + 1
        elif ok:
            verdict, failed = "XPASS", failed + 1
            detail += " -- listed in XFAIL but passed: take it off the list"
        elif expected_failure:
            verdict, xfailed = "XFAIL", xfailed + 1
        else:
            verdict, failed = "FAIL", failed + 1
        print(f"{verdict} {case.name}: {one_line(detail)}{took}", flush=True)

    print(f"expected failures: {xfailed} (the XFAIL list in scripts/interop_python.py)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
