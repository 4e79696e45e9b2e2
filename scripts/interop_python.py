"""Interop with the official Python MCP SDK 2.x (PyPI `mcp` 2.3.0) through the gateway.

Run by scripts/interop-python.sh inside the venv it prepares; not meant to be run by hand
without that venv (it imports `mcp`).

    interop_python.py --gateway GW --time-cmd CMD --everything-cmd CMD --logs DIR
                      [--certs DIR] [CASE ...]

Every case starts its own gateway (`GW --stdio CHILD ...`), because a dual-era child locks
its era at the first request it sees, then drives `mcp.Client(..., mode=MODE)`: list the
tools, call one, compare the exact result text, and report the protocol version the SDK
settled on. A CASE argument selects the cases whose name contains it.

The tls cases run the served transports over TLS (`--tlsCert/--tlsKey`, certificates from
scripts/interop-certs.sh in --certs DIR), the SDK trusting the test CA through SSL_CERT_FILE.
The auth cases put `--authTokenFile` on a Streamable HTTP gateway in front of mcp-server-time:
the SDK's Client over an `httpx2.AsyncClient` that sends `Authorization: Bearer TOKEN` (the SDK
2.x way to add headers) lists and calls as above; without the header the SDK gets an error and
every response was 401 `WWW-Authenticate: Bearer`. The auth-tls cases do the same over
https; and a client whose gateway shows a certificate from another CA must fail certificate
verification.

One line per case, `PASS|FAIL|XFAIL|XPASS name: detail`, then `N passed, N failed`.
Exit status 0 iff every case passed, or failed while listed in XFAIL below.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    import httpx2

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
# Bearer tokens (`--authTokenFile`) on Streamable HTTP, plain and over TLS, with
# mcp-server-time, in the two pinned modes. "-untrusted": the gateway's certificate is from a
# CA the client does not trust.
AUTH_TLS = "auth-tls-"
AUTH_TRANSPORTS = ("auth-token", "auth-no-token", "auth-tls-token", "auth-tls-no-token", "auth-tls-untrusted")
AUTH_REFUSED = ("auth-no-token", "auth-tls-no-token", "auth-tls-untrusted")
AUTH_MODES = ("legacy", MODERN)
# `--config`: the case's server as "svc" in an mcpServers file beside a second server, reached
# under /svc/ (stateless Streamable HTTP, or SSE: its `supergateway.outputTransport`).
CONFIG = "config-"
CONFIG_TRANSPORTS = ("config-streamable-stateless", "config-sse")
CONFIG_MODES = ("legacy", "auto")

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
    cases += [Case(t, s, "auto") for t in TLS_TRANSPORTS for s in SERVERS]
    cases += [Case(t, s, m) for t in CONFIG_TRANSPORTS for s in SERVERS for m in CONFIG_MODES]
    return cases + [Case(t, "time", m) for t in AUTH_TRANSPORTS for m in AUTH_MODES]


def plain(transport: str) -> str:
    """The transport a TLS case runs over TLS, or a config case serves its server over."""
    return transport.removeprefix(TLS).removeprefix(CONFIG)


def uses_tls(transport: str) -> bool:
    return transport.startswith((TLS, AUTH_TLS))


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

    def __init__(self, gw: str, case: Case, child: str, log: Path, pgid_file: Path, extra: list[str]) -> None:
        self.port = free_port()
        self.scheme = "https" if uses_tls(case.transport) else "http"
        transport = plain(case.transport)
        self.prefix = ""
        if case.transport.startswith(CONFIG):
            # The command line's output transport is the default; "svc" chooses its own.
            own = "sse" if transport == "sse" else "streamableHttp"
            servers = {
                "svc": {"command": "sh", "args": ["-c", child], "supergateway": {"outputTransport": own}},
                "spare": {"command": "sh", "args": ["-c", child]},
            }
            config = log.with_suffix(".json")
            config.write_text(json.dumps({"mcpServers": servers}))
            args = [gw, "--config", str(config)]
            self.prefix = "/svc"
        else:
            args = [gw, "--stdio", child]
        if transport.startswith("streamable") or transport in ("bridge", *AUTH_TRANSPORTS):
            args += ["--outputTransport", "streamableHttp"]
        if transport == "streamable-stateful":
            args.append("--stateful")
        args += ["--port", str(self.port), *extra]
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
        # `localhost`: a name the test certificate is for (and 127.0.0.1 is bound).
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{self.port}{self.prefix}{path}"

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


Seen = list[tuple[str, int, str | None]]  # method, status, WWW-Authenticate


def auth_http_client(case: Case, args: argparse.Namespace, seen: Seen) -> httpx2.AsyncClient:
    """The HTTP client an auth case hands the SDK: its headers carry the bearer token (but in
    the -no-token cases), and every response's method, status and WWW-Authenticate is noted."""
    import httpx2

    headers = {} if case.transport.endswith("-no-token") else {"Authorization": f"Bearer {args.token}"}

    async def note(response: httpx2.Response) -> None:
        seen.append((response.request.method, response.status_code, response.headers.get("www-authenticate")))

    # The SDK's default timeouts (create_mcp_http_client, which takes no event hooks). Its TLS
    # trust is httpx2's default: SSL_CERT_FILE (main sets it to the test CA), as for the SDK's
    # own clients.
    return httpx2.AsyncClient(
        headers=headers, timeout=httpx2.Timeout(30.0, read=300.0), event_hooks={"response": [note]}
    )


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the errors of its groups, and their causes and contexts, each once."""
    todo, done = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) in done:
            continue
        done.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)


async def exercise_refused(case: Case, url: str, args: argparse.Namespace) -> str:
    """An auth case whose client must not get through: the SDK fails, and for the right reason."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    seen: Seen = []
    stage = "connect"
    try:
        async with auth_http_client(case, args, seen) as http:
            async with Client(
                streamable_http_client(url, http_client=http), mode=case.mode, read_timeout_seconds=REQUEST_S
            ) as client:
                stage = "tools/list"
                tools = (await client.list_tools()).tools
    except Exception as exc:  # noqa: BLE001 - the failure is what this case wants; checked below
        failure = exc
    else:
        raise CaseError(f"listed {len(tools)} tools: the {case.transport} client should have been refused")

    if case.transport == "auth-tls-untrusted":
        errors = [e for e in chain(failure) if isinstance(e, ssl.SSLCertVerificationError)]
        if not errors:
            raise CaseError(f"{stage}: want a certificate verification error, got {describe(failure)}")
        if seen:
            raise CaseError(f"{stage}: HTTP responses arrived over an untrusted connection: {seen}")
        return f"refused by the client at {stage}: {errors[0].verify_message}"
    # No token: the gateway answered every request 401 with a bare Bearer challenge (RFC 6750
    # §3.1: no error attribute when no token was sent), and the SDK failed.
    if not seen or any(status != 401 or www != "Bearer" for _, status, www in seen):
        raise CaseError(f"{stage}: want only 401 `WWW-Authenticate: Bearer`, saw {seen}: {describe(failure)}")
    return f"refused at {stage}: {len(seen)} x 401 Bearer; the SDK raised {describe(failure)}"


async def exercise(case: Case, url: str, args: argparse.Namespace) -> str:
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    if case.transport in AUTH_REFUSED:
        return await exercise_refused(case, url, args)
    stack = contextlib.AsyncExitStack()
    seen: Seen = []
    if case.transport in AUTH_TRANSPORTS:
        http = await stack.enter_async_context(auth_http_client(case, args, seen))
        target = streamable_http_client(url, http_client=http)
    elif plain(case.transport) == "sse":
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
        async with stack, Client(
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
    # The token went on every request: none was refused (a GET answered 405 is a server
    # without a standalone stream, which the SDK expects).
    refused = [s for s in seen if s[1] >= 300 and not (s[0] == "GET" and s[1] == 405)]
    if refused:
        raise CaseError(f"a request was refused along the way: {refused}")
    return f"era {era}, {len(tools)} tools, {called}" + (f", {len(seen)} requests with the token" if seen else "")


def run_case(case: Case, args: argparse.Namespace) -> str:
    if case.server == MODERN_ONLY and not args.conformance_cmd:
        raise CaseError("no conformance-server (cargo build --example conformance-server)")
    child = {
        "time": args.time_cmd,
        "everything": args.everything_cmd,
        MODERN_ONLY: f"env CONFORMANCE_FIXTURE_ERA=modern {args.conformance_cmd}",
    }[case.server]
    extra: list[str] = []
    if case.transport in AUTH_TRANSPORTS:
        extra += ["--authTokenFile", args.token_file]
    if uses_tls(case.transport):
        if not args.certs:
            raise CaseError("no test certificate (interop-python.sh makes them with openssl)")
        if not args.gateway_has_tls:
            raise CaseError(f"{args.gateway} has no --tlsCert flag (TLS serving is not built in)")
        untrusted = case.transport == "auth-tls-untrusted"
        pair = ("rogue-server.pem", "rogue-server.key") if untrusted else ("server.pem", "server.key")
        extra += ["--tlsCert", str(Path(args.certs) / pair[0]), "--tlsKey", str(Path(args.certs) / pair[1])]
    log = Path(args.logs) / (case.name.replace("/", "_") + ".log")
    gw = Gateway(args.gateway, case, child, log, Path(args.logs) / "gateway.pgid", extra)
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
    p.add_argument("--certs", default="", help="scripts/interop-certs.sh's folder (the tls cases)")
    p.add_argument("cases", nargs="*", help="run only the cases whose name contains one of these")
    args = p.parse_args()
    Path(args.logs).mkdir(parents=True, exist_ok=True)
    if args.certs:
        # httpx2 (through the SDK) trusts the test CA by this variable only.
        os.environ["SSL_CERT_FILE"] = f"{args.certs}/ca.pem"

    unknown = XFAIL - {c.name for c in all_cases()}
    if unknown:
        print(f"interop_python.py: XFAIL names no case: {sorted(unknown)}", file=sys.stderr)
        return 2
    cases = [c for c in all_cases() if not args.cases or any(f in c.name for f in args.cases)]
    if not cases:
        print("interop_python.py: no case matches", file=sys.stderr)
        return 2

    # The auth cases' tokens: the one the clients send, after one they never send, in a file
    # only this user can read (the gateway warns about any other).
    args.token = secrets.token_urlsafe(32)
    args.token_file = str(Path(args.logs) / "tokens")
    fd = os.open(args.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# interop_python.py, one run\n{secrets.token_urlsafe(32)}\n{args.token}\n")
    try:
        shown = subprocess.run([args.gateway, "--help"], capture_output=True, text=True, timeout=10)
        args.gateway_has_tls = "--tlsCert" in shown.stdout + shown.stderr
    except (OSError, subprocess.TimeoutExpired):
        args.gateway_has_tls = False

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
