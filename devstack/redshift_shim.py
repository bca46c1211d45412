"""A Redshift wire-protocol shim in front of PostgreSQL, for tests and the local demo.

Why this exists
---------------
Locally, PostgreSQL stands in for Amazon Redshift, but the tests must still drive the *real*
``redshift_connector`` code path (its wire protocol, its type conversion, our SQL through it). Pointed
straight at PostgreSQL, redshift_connector 2.2 cannot even log in, for two reasons:

1. Its StartupMessage carries Redshift-only parameters (``client_protocol_version``, ``driver_version``,
   ``os_version``, ``driver_discovery_version`` and, with identity-provider plugins, ``plugin_name``,
   ``idp_type``, ``provider_name``, ``identity_namespace``, ...). PostgreSQL treats every startup parameter
   it does not know as a GUC and answers ``FATAL: unrecognized configuration parameter
   "client_protocol_version"``.
2. It parses the ``server_version`` ParameterStatus with ``packaging.version.parse``, which raises on
   Debian's ``"15.20 (Debian 15.20-0+deb12u1)"``.

What it changes (and nothing else)
----------------------------------
``RedshiftShim`` is a small TCP proxy (asyncio, on its own background thread, so it works both from a
pytest fixture and from a long-running demo process). For each client connection it:

* answers an ``SSLRequest`` (and a ``GSSENCRequest``) with ``b"N"`` -- there is no TLS locally -- and
  goes on reading the real StartupMessage, exactly as PostgreSQL itself does when TLS is off. A driver
  that insists on TLS (redshift_connector with ``ssl=True``) therefore fails fast with its own
  "Server refuses SSL" error instead of hanging;
* forwards a ``CancelRequest`` to the upstream unchanged (its key came from the upstream's own
  BackendKeyData, relayed untouched), then closes;
* rewrites a protocol-3 StartupMessage, keeping only the parameters in :data:`STARTUP_PARAMETER_ALLOW_LIST`
  and dropping everything else (the Redshift-only parameters above, and ``_pq_.*`` protocol extensions,
  which PostgreSQL would answer with a NegotiateProtocolVersion message redshift_connector cannot parse);
* relays server -> client traffic message by message (type byte + length) until the first
  ReadyForQuery, rewriting the ``server_version`` ParameterStatus to its leading numeric version
  (``"15.20"``) and fixing the message length. PostgreSQL reports ``server_version`` only during
  startup (it cannot change afterwards), so after the first ReadyForQuery the shim switches to raw byte
  relay for speed;
* relays client -> server bytes untouched after the StartupMessage (password / SASL exchange included),
  and closes both sides as soon as either one closes.

If the upstream cannot be reached, the client receives a proper ``FATAL`` ErrorResponse naming the
upstream address, so the driver reports a readable error rather than a broken pipe.

Run it in the foreground with ``python -m devstack.redshift_shim --listen-port 5439
--upstream-port 5432``; it stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import struct
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Optional

# A fixed name, not __name__: under ``python -m`` that would be "__main__" in the demo's log files.
_logger = logging.getLogger("devstack.redshift_shim")

#: Protocol 3.0 as sent in a StartupMessage (major 3 in the high 16 bits, minor in the low 16 bits).
PROTOCOL_3_MAJOR = 3
SSL_REQUEST_CODE = 80877103
GSSENC_REQUEST_CODE = 80877104
CANCEL_REQUEST_CODE = 80877102
#: PostgreSQL's own limit for a startup packet (MAX_STARTUP_PACKET_LENGTH).
MAX_STARTUP_PACKET_LENGTH = 10000
#: Sanity bound for a backend message during startup; startup messages are tiny.
MAX_STARTUP_PHASE_MESSAGE_LENGTH = 1 << 20

#: StartupMessage parameters passed on to PostgreSQL (compared case-insensitively, as PostgreSQL
#: compares GUC names). ``user``, ``database``, ``options`` and ``replication`` are the protocol's own
#: parameters; the rest are ordinary GUCs that libpq-style clients commonly set at connect time and that
#: exist both in PostgreSQL and (as session settings) in Redshift. Anything else is dropped: that is the
#: point of the shim, since PostgreSQL rejects unknown startup parameters with a FATAL error.
STARTUP_PARAMETER_ALLOW_LIST: frozenset[str] = frozenset(
    name.lower()
    for name in (
        "user",
        "database",
        "options",
        "replication",
        "application_name",
        "client_encoding",
        "DateStyle",
        "IntervalStyle",
        "TimeZone",
        "extra_float_digits",
        "search_path",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
    )
)

_LEADING_VERSION = re.compile(rb"\d+(?:\.\d+)*")
_RAW_CHUNK = 256 * 1024


class RedshiftShimError(RuntimeError):
    """The shim could not start or stop (e.g. the listen port is taken)."""


class _ProtocolViolation(Exception):
    """A peer sent bytes that are not a valid message where one was expected; the connection is dropped."""


def _startup_code(packet: bytes) -> int:
    """The 32-bit request code / protocol version that follows the length of a startup packet."""
    return int(struct.unpack("!I", packet[4:8])[0])


def rewrite_startup_message(packet: bytes) -> tuple[bytes, list[str]]:
    """Return ``(new_packet, dropped_names)`` with only allow-listed parameters kept.

    ``packet`` is a complete protocol-3 StartupMessage including its length field. Parameters are
    NUL-terminated name/value pairs ended by an extra NUL; order of the kept ones is preserved.
    """
    body = packet[8:]
    if not body.endswith(b"\x00"):
        raise _ProtocolViolation("StartupMessage is not NUL-terminated")
    fields = body[:-1].split(b"\x00")
    if fields and fields[-1] == b"":
        fields = fields[:-1]
    if len(fields) % 2:
        raise _ProtocolViolation("StartupMessage has a parameter name without a value")
    kept = bytearray(packet[4:8])
    dropped: list[str] = []
    for name, value in zip(fields[0::2], fields[1::2]):
        text = name.decode("utf-8", "replace")
        if text.lower() in STARTUP_PARAMETER_ALLOW_LIST:
            kept += name + b"\x00" + value + b"\x00"
        else:
            dropped.append(text)
    kept += b"\x00"
    return struct.pack("!I", len(kept) + 4) + bytes(kept), dropped


def rewrite_parameter_status(body: bytes) -> Optional[bytes]:
    """Return a new ParameterStatus body if it reports ``server_version`` in a non-PEP 440 form, else None.

    ``"15.20 (Debian 15.20-0+deb12u1)"`` becomes ``"15.20"``; a value with no leading number is left alone.
    """
    name, sep, rest = body.partition(b"\x00")
    if not sep or name != b"server_version":
        return None
    value = rest[:-1] if rest.endswith(b"\x00") else rest
    match = _LEADING_VERSION.match(value.strip())
    if match is None or match.group(0) == value:
        return None
    return name + b"\x00" + match.group(0) + b"\x00"


def _error_response(message: str) -> bytes:
    """A FATAL ErrorResponse (SQLSTATE 08001) the client driver will surface as a normal login error."""
    fields = b"".join(
        code + value.encode("utf-8") + b"\x00"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", "08001"), (b"M", message))
    ) + b"\x00"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


class RedshiftShim:
    """A TCP proxy that lets redshift_connector talk to plain PostgreSQL (see the module docstring).

    Usable as a context manager (``with RedshiftShim() as shim: ... shim.port``) or via start()/stop().
    """

    def __init__(
        self,
        upstream_host: str = "127.0.0.1",
        upstream_port: int = 5432,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        *,
        connect_timeout_s: float = 10.0,
        startup_timeout_s: float = 30.0,
    ) -> None:
        """``listen_port=0`` picks a free port (read it back from :attr:`port` after start()).

        ``connect_timeout_s`` bounds the connect to the upstream; ``startup_timeout_s`` bounds how long a
        client may take to send its StartupMessage, so half-open sockets do not pile up.
        """
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.connect_timeout_s = connect_timeout_s
        self.startup_timeout_s = startup_timeout_s
        self._port: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop_requested: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._start_error: Optional[BaseException] = None
        self._connections: set[asyncio.Task[None]] = set()
        self._accepted = 0

    # ------------------------------------------------------------------ public API

    @property
    def port(self) -> int:
        """The port actually listened on (resolved when ``listen_port`` was 0)."""
        if self._port is None:
            raise RedshiftShimError("RedshiftShim.port is only known after start()")
        return self._port

    @property
    def active_connections(self) -> int:
        """Client connections currently open through the shim (for tests and diagnostics)."""
        return len(self._connections)

    @property
    def accepted_connections(self) -> int:
        """Client connections accepted since start()."""
        return self._accepted

    def start(self, deadline_s: float = 10.0) -> None:
        """Start listening on a background thread; returns once the socket is bound and accepting."""
        if self._thread is not None:
            raise RedshiftShimError("RedshiftShim is already started")
        self._ready.clear()
        self._start_error = None
        self._port = None
        self._thread = threading.Thread(target=self._run, name="redshift-shim", daemon=True)
        started = time.monotonic()
        self._thread.start()
        if not self._ready.wait(deadline_s):
            raise RedshiftShimError(
                f"Redshift shim did not start listening on {self.listen_host}:{self.listen_port} "
                f"within {time.monotonic() - started:.1f}s"
            )
        if self._start_error is not None or self._port is None:
            self._thread.join(deadline_s)
            self._thread = None
            raise RedshiftShimError(
                f"Redshift shim could not listen on {self.listen_host}:{self.listen_port}: "
                f"{self._start_error or 'its thread ended before listening (see the log)'}"
            ) from self._start_error
        _logger.debug(
            "redshift shim listening on %s:%s -> %s:%s",
            self.listen_host, self._port, self.upstream_host, self.upstream_port,
        )

    def stop(self, deadline_s: float = 10.0) -> None:
        """Stop accepting, close every relayed connection (both sides) and join the thread."""
        thread, loop, stop_requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop_requested is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: the thread is ending anyway
                loop.call_soon_threadsafe(stop_requested.set)
        started = time.monotonic()
        thread.join(deadline_s)
        if thread.is_alive():
            raise RedshiftShimError(
                f"Redshift shim thread did not stop within {time.monotonic() - started:.1f}s"
            )
        self._thread = None

    def __enter__(self) -> "RedshiftShim":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ event loop

    def _run(self) -> None:
        """Thread body: own event loop, so the shim never depends on the caller having one."""
        try:
            asyncio.run(self._serve())
        except OSError as e:  # bind failure before _ready was set
            self._start_error = e
        finally:
            self._ready.set()  # never leave start() waiting, whatever happened

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        server = await asyncio.start_server(
            self._handle_client, self.listen_host, self.listen_port, reuse_address=True, backlog=256,
        )
        self._port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=5.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout=5.0)

    # ------------------------------------------------------------------ one connection

    async def _handle_client(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._accepted += 1
        peer = client_writer.get_extra_info("peername")
        upstream_writer: Optional[asyncio.StreamWriter] = None
        try:
            packet = await asyncio.wait_for(self._read_startup(client_reader, client_writer), self.startup_timeout_s)
            if packet is None:
                return
            try:
                upstream_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream_host, self.upstream_port), self.connect_timeout_s
                )
            except (OSError, asyncio.TimeoutError) as e:
                reason = str(e) or f"no answer within {self.connect_timeout_s:.0f}s"
                _logger.warning("shim: upstream %s:%s unreachable: %s", self.upstream_host, self.upstream_port, reason)
                client_writer.write(_error_response(
                    f"redshift shim could not reach upstream PostgreSQL at "
                    f"{self.upstream_host}:{self.upstream_port}: {reason}"
                ))
                await client_writer.drain()
                return
            upstream_writer = upstream  # for the finally clause
            code = _startup_code(packet)
            if code == CANCEL_REQUEST_CODE:
                upstream.write(packet)
                await upstream.drain()
                return
            if code >> 16 == PROTOCOL_3_MAJOR:
                packet, dropped = rewrite_startup_message(packet)
                if dropped:
                    _logger.debug("shim: dropped startup parameters %s from %s", dropped, peer)
            upstream.write(packet)
            await upstream.drain()
            await self._relay(client_reader, client_writer, upstream_reader, upstream)
        except asyncio.TimeoutError:
            _logger.debug("shim: %s sent no StartupMessage within %.0fs", peer, self.startup_timeout_s)
        except _ProtocolViolation as e:
            _logger.warning("shim: dropping connection from %s: %s", peer, e)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a peer went away mid-handshake: nothing to relay any more
        except asyncio.CancelledError:
            # stop() cancels every connection. Ending the handler normally instead of "cancelled" keeps
            # Python 3.11's StreamReaderProtocol done-callback (task.exception() on a cancelled task) from
            # logging a spurious traceback; 3.12 fixed that callback.
            pass
        finally:
            await _close(client_writer)
            if upstream_writer is not None:
                await _close(upstream_writer)
            self._connections.discard(task)

    async def _read_startup(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Optional[bytes]:
        """Read the first real startup packet, answering SSL/GSS encryption requests with ``N`` on the way.

        Returns None if the client closed the connection before sending one (typical after ``N`` for a
        driver that requires TLS).
        """
        for _ in range(3):  # at most SSLRequest + GSSENCRequest before the real packet
            try:
                header = await reader.readexactly(4)
            except asyncio.IncompleteReadError:
                return None
            (length,) = struct.unpack("!I", header)
            if not 8 <= length <= MAX_STARTUP_PACKET_LENGTH:
                raise _ProtocolViolation(f"invalid startup packet length {length}")
            packet = header + await reader.readexactly(length - 4)
            code = _startup_code(packet)
            if length == 8 and code in (SSL_REQUEST_CODE, GSSENC_REQUEST_CODE):
                writer.write(b"N")
                await writer.drain()
                continue
            return packet
        raise _ProtocolViolation("too many encryption requests before the StartupMessage")

    async def _relay(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        """Pump both directions until either side closes, then return (the caller closes both)."""
        tasks = {
            asyncio.create_task(_pipe_raw(client_reader, upstream_writer)),
            asyncio.create_task(_pipe_server_to_client(upstream_reader, client_writer)),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, _ProtocolViolation):
                raise outcome


async def _pipe_raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF or a connection error; either ends the relay."""
    try:
        while True:
            data = await reader.read(_RAW_CHUNK)
            if not data:
                return
            writer.write(data)
            await writer.drain()
    except OSError:
        return


async def _pipe_server_to_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Parse backend messages until the first ReadyForQuery (rewriting server_version), then copy raw."""
    try:
        while True:
            header = await reader.readexactly(5)
            msg_type = header[:1]
            (length,) = struct.unpack("!I", header[1:5])
            if not 4 <= length <= MAX_STARTUP_PHASE_MESSAGE_LENGTH:
                raise _ProtocolViolation(f"invalid backend message length {length} for type {msg_type!r}")
            body = await reader.readexactly(length - 4)
            if msg_type == b"S":
                new_body = rewrite_parameter_status(body)
                if new_body is not None:
                    _logger.debug("shim: server_version %r -> %r", body, new_body)
                    body = new_body
                    header = msg_type + struct.pack("!I", len(body) + 4)
            writer.write(header + body)
            await writer.drain()
            if msg_type == b"Z":  # ReadyForQuery: startup is over, server_version cannot change any more
                break
    except (OSError, asyncio.IncompleteReadError):
        return
    await _pipe_raw(reader, writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a stream, tolerating a peer that already reset it."""
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout=2.0)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the shim in the foreground until SIGTERM / SIGINT (used by the demo and ``services up``)."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.redshift_shim",
        description="Let redshift_connector talk to a local PostgreSQL standing in for Amazon Redshift.",
    )
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--listen-port", type=int, default=5439)
    parser.add_argument("--upstream-host", default="127.0.0.1")
    parser.add_argument("--upstream-port", type=int, default=5432)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()

    def _on_signal(signum: int, _frame: Optional[FrameType]) -> None:
        _logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    shim = RedshiftShim(args.upstream_host, args.upstream_port, args.listen_host, args.listen_port)
    try:
        shim.start()
    except RedshiftShimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"redshift shim listening on {args.listen_host}:{shim.port} -> {args.upstream_host}:{args.upstream_port}",
        flush=True,
    )
    while not stop.wait(1.0):  # short ticks keep the main thread responsive to signals
        pass
    shim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
