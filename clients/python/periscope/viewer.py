"""The connection to a Periscope viewer."""

from __future__ import annotations

import collections
import importlib
import itertools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
import numpy.typing as npt
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from . import codec
from .codec import FRAGMENT_THRESHOLD, array_bytes, pack, pack_fragments, part_messages, split_parts, unpack
from .gui import Event, Gui
from .images import RemoteRenderer
from .message import PROTOCOL_NAME, PROTOCOL_VERSION, Message

if TYPE_CHECKING:
    import ssl as _ssl

    from websockets.sync.client import ClientConnection

    #: Frame indices: an int, a range, or a list/array of ints.
    Frames = Union[int, range, Iterable[int], npt.NDArray[np.integer[Any]]]

#: A message from the viewer, as decoded from MessagePack.
Msg = dict[str, Any]

log = logging.getLogger("periscope")

#: The viewer's default port (aitviewer's); ``PERISCOPE_PORT`` overrides it.
DEFAULT_PORT = 8417

#: Replies kept for get_message()/process_messages() before the oldest are dropped.
MAX_PENDING = 10_000

#: Events waiting for their callbacks before the oldest are dropped (camera
#: events and a control's value updates are merged: the newest wins).
MAX_EVENTS = 10_000


class ViewerError(RuntimeError):
    """The viewer refused a message or the connection."""

    def __init__(self, message: Optional[str], code: Optional[str] = None, seq: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.seq = seq


_ANSWERS = (Message.SCENE_STATE, Message.CHAIN_STATE, Message.SCREENSHOT_RESULT, Message.IMAGES_STATE,
            Message.SCENE_SAVED, Message.VIEW_CAMERA, Message.CONTROL_STATE, Message.CONTROLS,
            Message.VIDEO_EXPORTED)


def _png_bytes(rgba: npt.ArrayLike, level: int = 6) -> bytes:
    import struct
    import zlib

    img = np.ascontiguousarray(rgba, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) array, got shape {img.shape}")
    h, w, c = img.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * c)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 6 if c == 4 else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
            + chunk(b"IEND", b""))


def save_png(path: Union[str, os.PathLike[str]], rgba: npt.ArrayLike) -> None:
    """Writes an ``(H, W, 3|4)`` uint8 array as a PNG (standard library only)."""
    data = _png_bytes(rgba)
    with open(path, "wb") as f:
        f.write(data)


def open_websocket(url: str, timeout: float = 10, ssl: Optional[_ssl.SSLContext] = None) -> ClientConnection:
    """A synchronous WebSocket connection tuned for bulk binary data (no
    compression, no message size limit). The caller closes it. ``ssl`` is an
    ``ssl.SSLContext`` for ``wss://`` URLs (None: the system's default trust)."""
    extra: dict[str, Any] = {"ssl": ssl} if ssl is not None and url.startswith("wss://") else {}
    ws = connect(url, open_timeout=timeout, max_size=None, compression=None, close_timeout=timeout, **extra)
    # We own the connection's lifetime (closed in RemoteViewer.close); entering
    # it is what websockets >= 17.1 expects of connections not used in a with-block.
    entered: ClientConnection = ws.__enter__()
    return entered


def _float32(value: Any) -> Any:
    """Node data is stored as float32 by the viewer: convert float64 once here,
    halving the bytes on the wire. Other values pass through unchanged."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


class RemoteViewer(RemoteRenderer):
    """A connection to a Periscope viewer.

    ``RemoteViewer("127.0.0.1")`` connects to port 8417 (or ``$PERISCOPE_PORT``). Use it as a context
    manager, or call :meth:`close` when done. Messages sent through one viewer
    object are handled in order.

    Like aitviewer's, it never raises when no viewer is up: :attr:`connected`
    is False and messages are dropped (counted in :attr:`dropped`). With
    ``reconnect=True`` (the default) a background thread connects when a viewer
    appears and reconnects after the viewer restarts; pass ``required=True`` to
    get a :class:`ConnectionError` instead when the first attempt fails.

    Errors the viewer reports (a wrong array shape, an unknown uid, ...) are
    logged with the ``periscope`` logger, queued for :meth:`get_message`, and
    raised by :meth:`sync`.
    """

    #: Seconds between attempts to reach a viewer that is not up.
    RETRY_INTERVAL = 0.5

    def __init__(self, host: str = "localhost", port: Optional[int] = None, timeout: float = 10,
                 verbose: bool = True, client_name: Optional[str] = None, token: Optional[str] = None,
                 session: Optional[str] = None, reconnect: bool = True, required: bool = False,
                 ssl: Optional[_ssl.SSLContext] = None, event_thread: bool = True) -> None:
        scheme = "wss" if ssl is not None else "ws"
        if "://" in host:  # a URL: ws://host:port or wss://host:port
            scheme, rest = host.split("://", 1)
            host, _, url_port = rest.rstrip("/").rpartition(":") if ":" in rest else (rest, "", "")
            port = port if port is not None else (int(url_port) if url_port else None)
        if port is None:
            port = int(os.environ.get("PERISCOPE_PORT", DEFAULT_PORT))
        self.host, self.port, self.timeout, self.verbose = host, port, timeout, verbose
        #: The WebSocket address this client connects to (``ws://host:port``, ``wss://`` with TLS).
        self.ws_url = f"{scheme}://{host}:{port}"
        self._ssl = ssl if not isinstance(ssl, bool) else None
        if token is None:
            token = os.environ.get("PERISCOPE_TOKEN") or None
        self.client_name, self.token, self.session = client_name or "python", token, session
        self.client_id: Optional[int] = None
        self.resumed = False
        self.max_message_bytes: Optional[int] = None
        self._array_parts = False
        self._transfer_ids = itertools.count(1)
        #: Messages (and images) dropped because no viewer was connected.
        self.dropped = 0
        self._seq = itertools.count(1)
        self._uid = itertools.count(1)
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending: collections.deque[Msg] = collections.deque(maxlen=MAX_PENDING)
        self._errors: collections.deque[Msg] = collections.deque(maxlen=MAX_PENDING)
        self._states: dict[int, Optional[Msg]] = {}
        self._ws: Optional[ClientConnection] = None
        self._generation = 0  # bumped per connection, so requests notice a lost one
        # Reader threads still delivering what arrived (a connection marked lost
        # by a failed send may still have the viewer's last messages to read).
        self._reading = 0
        self._stopped = False
        self._reader: Optional[threading.Thread] = None
        self._connector: Optional[threading.Thread] = None
        self._camera: Optional[Msg] = None
        self._camera_new = False
        self._camera_used: Optional[int] = None
        self._want_camera: Optional[bool] = None
        #: The viewer process this object started (create_new_process), if any.
        self.process: Optional[subprocess.Popen[str]] = None
        self._stop_process_on_close = False  # None: never asked; else the last require_camera_from_remote value
        self._camera_sent = False
        #: The controls this client defines in the viewer's Controls panel.
        self.gui = Gui(self)
        self._event_thread_wanted = event_thread
        self._event_thread: Optional[threading.Thread] = None
        self._events_cond = threading.Condition()
        self._events: collections.deque[Any] = collections.deque()
        self._latest_events: dict[Any, tuple[list[Callable[[Event], object]], Event]] = {}
        self._event_keys = itertools.count()
        self.events_dropped = 0
        self._select_callbacks: list[Callable[[Event], object]] = []
        self._camera_callbacks: list[Callable[[Event], object]] = []
        try:
            self._connect()
        except ViewerError:
            raise  # refused (bad token, wrong protocol): retrying cannot help
        except ConnectionError as e:
            if required or not reconnect:
                raise
            if verbose:
                log.info("%s; will connect when a viewer appears", e)
        if reconnect:
            self._connector = threading.Thread(target=self._connect_loop, name="periscope-connector", daemon=True)
            self._connector.start()

    # -- a viewer of our own ---------------------------------------------

    @classmethod
    def create_new_process(cls, args: Optional[Sequence[str]] = None, timeout: float = 60,
                           **kwargs: Any) -> RemoteViewer:
        """Starts the viewer installed with this package (the ``periscope``
        wheel; ``$PERISCOPE_BIN`` overrides it) and returns a connected viewer.

        ``args`` are the viewer's flags (e.g. ``["--headless"]``); it listens on
        a free loopback port unless ``--port`` is given. :meth:`close` stops a
        headless viewer started here; a window stays open until the person
        closes it, which :meth:`wait_process` waits for. Other keyword arguments
        go to :class:`RemoteViewer`.
        """
        from .server import find_viewer

        argv = list(args or [])
        if not any(a == "--port" or a.startswith("--port=") for a in argv):
            argv += ["--port", "0"]
        proc = subprocess.Popen([find_viewer(), *argv], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline() if proc.stdout else ""),
                                  name="periscope-process-start", daemon=True)
        reader.start()
        reader.join(timeout)
        line = first[0].strip() if first else ""
        prefix = "periscope listening on "
        if not line.startswith(prefix):
            code = proc.poll()
            if code is None and first and not first[0]:
                # Its stdout closed: the process is ending; wait a moment for its status
                # (it may not have been reaped yet when EOF was read).
                try:
                    code = proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
            if code is None:
                proc.kill()
                proc.wait()
            why = f"it exited with status {code}" if code is not None else f"no address within {timeout} s"
            raise RuntimeError(f"the viewer did not start ({why}); its log is above")

        def drain(stream: Any) -> None:  # later output (a --screenshot path) must not fill the pipe
            for _ in stream:
                pass

        threading.Thread(target=drain, args=(proc.stdout,), name="periscope-process-out", daemon=True).start()
        url = line[len(prefix):]
        kwargs.setdefault("required", True)
        try:
            viewer = cls(url, **kwargs)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        viewer.process = proc
        has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"
        viewer._stop_process_on_close = "--headless" in argv or not has_display
        return viewer

    def wait_process(self, timeout: Optional[float] = None) -> Optional[int]:
        """Waits until the viewer started by :meth:`create_new_process` exits
        (a window: until the person closes it) and returns its exit status;
        None when this object did not start one."""
        if self.process is None:
            return None
        return self.process.wait(timeout)

    # -- the web view ----------------------------------------------------

    @property
    def url(self) -> str:
        """The address of the hub's web view, the same port as its WebSocket:
        ``http://host:port/`` (``https://`` when the connection uses TLS). Open it
        in a browser to see the scene; a hub built without the web view (or with
        ``[server] web = false``) answers there with a page saying so."""
        scheme = "https" if self.ws_url.startswith("wss://") else "http"
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{scheme}://{host}:{self.port}/"

    def web_view(self, height: int = 600, width: Union[int, str] = "100%") -> Any:
        """The hub's web view (:attr:`url`) as an ``IPython.display.IFrame``
        of ``height`` pixels, for a notebook to display; :meth:`show` displays it.

        An IFrame of the hub's own page rather than a Jupyter widget: the page
        is the whole viewer (the same UI as the native window, talking to the
        hub over its own WebSocket), so it needs no notebook extension, works
        in JupyterLab, classic Notebook, VS Code and exported HTML alike, and
        stays live while the kernel is busy or restarted. The browser, not the
        kernel, connects to the hub: from a remote kernel, forward the port
        (``ssh -L``) so that :attr:`url` opens on the notebook's machine.
        Raises ImportError, saying so, when IPython is not installed."""
        try:
            display_module = importlib.import_module("IPython.display")
        except ImportError as e:
            raise ImportError(
                "showing the web view inline needs IPython (run this in Jupyter, or `pip install ipython`); "
                f"or open {self.url} in a browser"
            ) from e
        return display_module.IFrame(self.url, width=width, height=height)

    def show(self, height: int = 600, width: Union[int, str] = "100%") -> None:
        """Shows the hub's web view inline in a Jupyter notebook: displays
        :meth:`web_view` (an IFrame of :attr:`url`, ``height`` pixels high).
        Raises ImportError, saying so, when IPython is not installed."""
        frame = self.web_view(height=height, width=width)
        importlib.import_module("IPython.display").display(frame)

    # -- connection -------------------------------------------------------

    def _connect(self) -> None:
        """Opens a connection and does the handshake; raises ConnectionError or ViewerError."""
        try:
            ws = open_websocket(self.ws_url, self.timeout, self._ssl)
        except (OSError, TimeoutError, EOFError, WebSocketException) as e:
            hint = " (does the viewer use TLS? then connect to wss://)" if isinstance(e, (EOFError, WebSocketException)) \
                and self.ws_url.startswith("ws://") else ""
            raise ConnectionError(f"cannot connect to a Periscope viewer at {self.ws_url}: {e}{hint}") from e
        hello: dict[str, Any] = {"protocol": PROTOCOL_NAME, "version": PROTOCOL_VERSION, "client_name": self.client_name}
        if self.token is not None:
            hello["token"] = self.token
        if self.session is not None:
            hello["session"] = self.session
        try:
            ws.send(pack({"type": int(Message.HELLO), "uid": None, "args": [], "kwargs": hello}))
            reply = ws.recv(timeout=self.timeout)
            welcome = unpack(reply if isinstance(reply, bytes) else reply.encode())
        except (TimeoutError, ConnectionClosed, OSError) as e:
            ws.close()
            raise ConnectionError(f"no welcome from the viewer at {self.ws_url}: {e}") from e
        if welcome.get("type") == Message.REFUSED:
            ws.close()
            raise ViewerError(f"the viewer refused the connection: {welcome.get('reason')}", code="refused")
        if welcome.get("type") != Message.WELCOME:
            ws.close()
            raise ViewerError(f"unexpected handshake reply: {welcome!r}")
        self.client_id = welcome["client_id"]
        self.session = welcome["session"]
        self.resumed = welcome.get("resumed", False)
        self.max_message_bytes = welcome.get("max_message_bytes")
        self._array_parts = bool(welcome.get("array_parts", False))
        with self._cond:
            self._ws = ws
            self._generation += 1
            generation = self._generation
            self._camera_sent = False
            self._reading += 1
            self._cond.notify_all()
        self._reader = threading.Thread(target=self._read_loop, args=(ws, generation), name="periscope-reader",
                                        daemon=True)
        try:
            self._reader.start()
        except BaseException:
            with self._cond:
                self._reading -= 1
            raise
        if self.verbose:
            log.info("connected to %s as client %s%s", self.ws_url, self.client_id, " (resumed)" if self.resumed else "")
        if self.resumed:
            # Continue numbering after this client's existing nodes so new
            # nodes never replace old ones.
            mine = [n["uid"] for n in self.query()["nodes"] if n["client_id"] == self.client_id and n["uid"]]
            self._uid = itertools.count(max(mine, default=0) + 1)
        if self._want_camera:
            self.require_camera_from_remote(True)
        if self._select_callbacks or self._camera_callbacks:
            self._subscribe()
        if not self.resumed and self.gui._controls:
            # A viewer that does not know us (it restarted): our controls again, with their values.
            self.gui._restore()

    def _connect_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or self._ws is None)
                if self._stopped:
                    return
            try:
                self._connect()
            except ViewerError as e:
                log.warning("%s; not retrying", e)
                return
            except ConnectionError:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopped, self.RETRY_INTERVAL)

    def _lost(self, ws: Optional[ClientConnection]) -> None:
        """Marks the connection `ws` gone (once), so requests fail and the connector retries."""
        with self._cond:
            if self._ws is ws:
                self._ws = None
                self._camera = None
                self._camera_new = False
                if self.verbose and not self._stopped:
                    log.info("lost the viewer at %s", self.ws_url)
            self._cond.notify_all()

    def _read_loop(self, ws: ClientConnection, generation: int) -> None:
        try:
            for raw in ws:
                if isinstance(raw, str):
                    continue
                msg = unpack(raw)
                kind = msg.get("type")
                if kind == Message.EVENT:
                    self._on_event(msg)
                    continue
                with self._cond:
                    if kind in _ANSWERS and msg.get("ref_seq") in self._states:
                        self._states[msg["ref_seq"]] = msg
                    elif kind == Message.ERROR and msg.get("ref_seq") in self._states:
                        # The answer to a request: raised there, so not also kept in errors().
                        self._states[msg["ref_seq"]] = msg
                    elif kind == Message.CAMERA:
                        # Newest wins: only the latest camera matters to a renderer.
                        self._camera = msg
                        self._camera_new = True
                    else:
                        if kind == Message.ERROR:
                            self._errors.append(msg)
                            if self.verbose:
                                log.warning("viewer error (message %s): [%s] %s",
                                            msg.get("ref_seq"), msg.get("code"), msg.get("message"))
                        elif kind == Message.WARNING and self.verbose:
                            log.info("viewer warning (message %s): %s", msg.get("ref_seq"), msg.get("message"))
                        self._pending.append(msg)
                    self._cond.notify_all()
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._lost(ws)
            with self._cond:
                self._reading -= 1
                self._cond.notify_all()

    # -- events and callbacks -------------------------------------------

    def _on_event(self, msg: Msg) -> None:
        """On the reader thread: updates state at once and queues the callbacks."""
        what = msg.get("event")
        key: Any
        if what == "control":
            control = self.gui._controls.get(msg.get("uid", -1))
            if control is None:
                return
            if msg.get("action") != "click":
                control._value = msg.get("value")
            event = Event("control", msg, value=msg.get("value"), control=control, action=msg.get("action"),
                          client=msg.get("client_id"), client_name=msg.get("client_name"))
            callbacks = control._callbacks
            key = ("control", control.uid) if msg.get("action") == "update" else next(self._event_keys)
        elif what == "select":
            mine = msg.get("client_id") == self.client_id and msg.get("client_id") is not None
            event = Event("select", msg, node=msg.get("uid") if mine else None, node_id=msg.get("node_id"),
                          client_id=msg.get("client_id"), name=msg.get("name"), point=msg.get("point"))
            callbacks, key = self._select_callbacks, next(self._event_keys)
        elif what == "camera":
            event = Event("camera", msg, camera=msg.get("camera"), view=msg.get("view", 0))
            callbacks, key = self._camera_callbacks, ("camera",)
        else:
            return
        if not callbacks:
            return
        with self._events_cond:
            if key not in self._latest_events:
                if len(self._events) >= MAX_EVENTS:
                    self._latest_events.pop(self._events.popleft(), None)
                    self.events_dropped += 1
                    if self.events_dropped == 1:
                        log.warning("callbacks are not keeping up: dropping the oldest events (counted in "
                                    ".events_dropped)")
                self._events.append(key)
            self._latest_events[key] = (list(callbacks), event)
            self._events_cond.notify_all()

    def _want_events(self) -> None:
        """A callback was registered: start the callback thread (unless the
        program runs them itself with process_events)."""
        with self._events_cond:
            if not self._event_thread_wanted or self._event_thread is not None:
                return
            self._event_thread = threading.Thread(target=self._event_loop, name="periscope-events", daemon=True)
            self._event_thread.start()

    def _event_loop(self) -> None:
        while not self._stopped:
            self.process_events(timeout=0.5)

    def process_events(self, timeout: Optional[float] = 0.0) -> int:
        """Runs the callbacks of the events received so far on this thread;
        waits up to ``timeout`` seconds for one (None: until one arrives).
        Returns how many events were handled. Use it with
        ``RemoteViewer(..., event_thread=False)`` to run callbacks on your own
        thread (e.g. a training loop's); otherwise they run on the client's
        ``periscope-events`` thread. An exception in a callback is logged."""
        n = 0
        with self._events_cond:
            if not self._events and timeout != 0:
                self._events_cond.wait_for(lambda: bool(self._events) or self._stopped, timeout)
        while True:
            with self._events_cond:
                if not self._events:
                    return n
                callbacks, event = self._latest_events.pop(self._events.popleft())
            for fn in callbacks:
                try:
                    fn(event)
                except Exception:
                    log.exception("a %s callback failed", event.kind)
            n += 1

    def _subscribe(self) -> Optional[int]:
        return self._send(Message.SUBSCRIBE, None, [],
                          {"select": bool(self._select_callbacks), "camera": bool(self._camera_callbacks)})

    def on_select(self, fn: Callable[[Event], object]) -> Callable[[Event], object]:
        """Decorator: ``fn(event)`` runs when the selection changes (a click in
        the view, the scene tree, a script, or :meth:`select`): ``event.node``
        (this client's uid of the node, or None), ``event.node_id``,
        ``event.client_id`` (the node's owner), ``event.point`` (the hit point
        of a click in world coordinates, or None). Nothing selected: ``node_id`` is None."""
        self._select_callbacks.append(fn)
        self._want_events()
        self._subscribe()
        return fn

    def on_camera(self, fn: Callable[[Event], object]) -> Callable[[Event], object]:
        """Decorator: ``fn(event)`` runs when the main view's camera changes
        (at most about 30 times a second, the newest camera winning):
        ``event.camera`` is the dict :attr:`camera` returns."""
        self._camera_callbacks.append(fn)
        self._want_events()
        self._subscribe()
        return fn

    def select(self, node: Union[RemoteNode, int, None], client_id: Optional[int] = None,
               node_id: Optional[int] = None) -> Optional[int]:
        """Selects a node, as a click in the view would: a node object or a uid
        of this client's, a uid of another client's with ``client_id``, or any
        node by ``node_id`` (as :meth:`query` lists it). ``None`` clears the selection."""
        uid = node.uid if isinstance(node, RemoteNode) else node
        kwargs: dict[str, Any] = {}
        if client_id is not None:
            kwargs["client_id"] = int(client_id)
        if node_id is not None:
            kwargs["node_id"] = int(node_id)
        return self._send(Message.SELECT, uid, [], kwargs)

    @property
    def connected(self) -> bool:
        """True while a connection to a viewer is open."""
        return self._ws is not None

    def wait_connected(self, timeout: Optional[float] = None) -> bool:
        """Waits until a viewer is connected; returns :attr:`connected`."""
        with self._cond:
            self._cond.wait_for(lambda: self._ws is not None or self._stopped, timeout)
        return self.connected

    def close(self) -> None:
        """Closes the connection after everything sent so far was delivered, and stops reconnecting.
        A headless viewer started by :meth:`create_new_process` is stopped too."""
        with self._cond:
            self._stopped = True
            ws = self._ws
            self._cond.notify_all()
        with self._events_cond:
            self._events_cond.notify_all()
        if ws is not None:
            ws.close()
        if self._reader is not None:
            self._reader.join(timeout=self.timeout)
        self._lost(ws)
        if self.process is not None and self._stop_process_on_close and self.process.poll() is None:
            # A headless viewer we started has nobody else to close it: Ctrl-C, so it exits cleanly.
            self.process.send_signal(signal.SIGINT)

    close_connection = close
    wait_close = close

    def __enter__(self) -> RemoteViewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------

    def _send(self, type: int, uid: Optional[int], args: Iterable[Any], kwargs: Mapping[str, Any]) -> Optional[int]:
        """Sends one message; returns its sequence number, or None when it was
        dropped because no viewer is connected."""
        with self._lock:
            seq = next(self._seq)
            ws = self._ws
            if ws is not None:
                msg = {"type": int(type), "uid": uid, "args": list(args), "kwargs": kwargs, "seq": seq}
                try:
                    if self._array_parts and array_bytes(msg) > codec.PART_BYTES:
                        # Big arrays go first, in parts of 64 KiB read from their
                        # own memory; the viewer copies each part once into the
                        # array's final buffer (docs/protocol.md, docs/benchmarks.md).
                        msg, arrays = split_parts(msg, self._transfer_ids)
                        for tid, a in arrays:
                            for part in part_messages(tid, a, seq):
                                ws.send(part)
                        ws.send(pack(msg))
                    elif array_bytes(msg) > FRAGMENT_THRESHOLD:
                        # Large arrays go out in fragments read straight from
                        # their memory, never copied whole (docs/benchmarks.md, 3b).
                        ws.send(pack_fragments(msg))
                    else:
                        ws.send(pack(msg))
                    return seq
                except (ConnectionClosed, OSError):
                    pass
        if ws is not None:
            self._lost(ws)
        self.dropped += 1
        if self.verbose and self.dropped == 1:
            log.warning("no viewer connected at %s: dropping messages (counted in .dropped)", self.ws_url)
        return None

    def send_message(self, type: int, uid: Optional[int] = None, *args: Any, **kwargs: Any) -> Optional[int]:
        """Sends any message; custom messages use types >= 10000.

        Returns the message's sequence number, which replies cite as ``ref_seq``.
        """
        return self._send(type, uid, args, kwargs)

    def _node_message(self, type: int, uid: Optional[int], args: Iterable[Any],
                      kwargs: Mapping[str, Any]) -> Optional[int]:
        return self._send(type, uid, [_float32(a) for a in args], {k: _float32(v) for k, v in kwargs.items()})

    def _next_uid(self) -> int:
        return next(self._uid)

    def set_frame(self, frame: int) -> Optional[int]:
        """Moves the playhead (clamped to the scene's frames)."""
        return self._send(Message.SET_FRAME, None, [int(frame)], {})

    def next_frame(self) -> Optional[int]:
        """Next frame, wrapping to the first after the last."""
        return self._send(Message.NEXT_FRAME, None, [], {})

    def previous_frame(self) -> Optional[int]:
        """Previous frame, wrapping to the last before the first."""
        return self._send(Message.PREVIOUS_FRAME, None, [], {})

    def set_playback(self, playing: Optional[bool] = None, fps: Optional[float] = None) -> Optional[int]:
        """Starts or stops playback (``playing``) and sets its speed in frames
        per second (``fps``, a finite number in [0.001, 240]); ``None`` keeps each.
        While playing, the viewer (windowed or headless) advances the playhead
        one frame every ``1/fps`` seconds. A bad value is refused naming the field."""
        kwargs: dict[str, Any] = {}
        if playing is not None:
            kwargs["playing"] = bool(playing)
        if fps is not None:
            kwargs["fps"] = float(fps)
        return self._send(Message.PLAYBACK, None, [], kwargs)

    def play(self) -> Optional[int]:
        """Starts playback at the scene's speed (see :meth:`set_playback`)."""
        return self.set_playback(playing=True)

    def pause(self) -> Optional[int]:
        """Stops playback; the playhead stays where it is."""
        return self.set_playback(playing=False)

    # -- queries and replies ---------------------------------------------

    def _request(self, uid: Optional[int] = None, kind: int = Message.QUERY, /, _timeout: Optional[float] = None,
                 **kwargs: Any) -> Msg:
        with self._lock:
            seq = next(self._seq)
            ws, generation = self._ws, self._generation
            if ws is None:
                raise ConnectionError(f"not connected to a Periscope viewer at {self.ws_url}")
            with self._cond:
                self._states[seq] = None
            try:
                ws.send(pack({"type": int(kind), "uid": uid, "args": [], "kwargs": kwargs, "seq": seq}))
            except (ConnectionClosed, OSError) as e:
                self._states.pop(seq, None)
                raise ConnectionError(f"lost the viewer at {self.ws_url}: {e}") from e
        with self._cond:
            deadline = time.monotonic() + (max(self.timeout, 60) if _timeout is None else _timeout)
            while self._states[seq] is None:
                left = deadline - time.monotonic()
                if self._generation != generation or (self._ws is None and self._reading == 0):
                    self._states.pop(seq, None)
                    raise ConnectionError("the viewer closed the connection")
                if left <= 0:
                    self._states.pop(seq, None)
                    raise TimeoutError("no answer from the viewer")
                self._cond.wait(left)
            msg = self._states.pop(seq)
        assert msg is not None  # the loop above waited for it
        if msg.get("type") == Message.ERROR:
            raise ViewerError(msg.get("message"), code=msg.get("code"), seq=seq)
        return msg

    def query(self) -> Msg:
        """The scene state: ``{"n_frames", "current_frame", "playing", "fps", "nodes": [...], "clients": [...]}``.

        Each node is a dict with ``id, uid, client_id, client_name, name, kind,
        n_frames, current_frame, enabled``. Since messages are handled in order,
        the answer also confirms that everything sent before was processed.
        """
        return self._request()

    def query_data(self, node: Union[RemoteNode, int], attribute: Optional[str] = None, frame: Optional[int] = None,
                   client_id: Optional[int] = None) -> npt.NDArray[Any]:
        """One frame of a node's data (e.g. ``"vertices"``) as a numpy array.

        ``node`` is a node object or a uid of this client's; with ``client_id``,
        a uid of another client's (as listed by :meth:`query`)."""
        uid = node.uid if isinstance(node, RemoteNode) else node
        kwargs: dict[str, Any] = {} if client_id is None else {"client_id": int(client_id)}
        if attribute is not None:
            kwargs["attribute"] = attribute
        if frame is not None:
            kwargs["frame"] = int(frame)
        data: npt.NDArray[Any] = self._request(uid, **kwargs)["data"]
        return data

    def stages(self) -> list[Msg]:
        """The dispatch chain's stages, in order: dicts with ``name, entry, path,
        generation, calls, failures, disabled, load_error, last_error``."""
        stages: list[Msg] = self._request(None, Message.QUERY_CHAIN)["stages"]
        return stages

    def screenshot(self, path: Union[str, os.PathLike[str], None] = None, width: Optional[int] = None,
                   height: Optional[int] = None, frame: Optional[int] = None,
                   camera: Optional[Mapping[str, Any]] = None, fit: bool = False) -> npt.NDArray[np.uint8]:
        """Renders the scene on the viewer and returns it as a ``(H, W, 4)`` uint8 array.

        The window renders from the user's camera; a headless viewer keeps its
        own camera, framing the data when it first appears. ``width``/``height``
        default to the viewer's configured screenshot size; ``frame`` renders
        that scene frame (then restores the playhead). ``fit=True`` frames the
        shown data first; ``camera`` sets the camera (and keeps it):
        ``{"target": [x, y, z], "yaw": deg, "pitch": deg, "distance": d, "fov_y": deg}``
        (y up; yaw 0 looks along -z). With ``path`` the image is also written as a PNG.
        """
        kwargs: dict[str, Any] = {k: int(v) for k, v in (("width", width), ("height", height), ("frame", frame)) if v is not None}
        if fit:
            kwargs["fit"] = True
        if camera is not None:
            kwargs["camera"] = {k: ([float(x) for x in v] if k == "target" else float(v)) for k, v in camera.items()}
        image: npt.NDArray[np.uint8] = self._request(None, Message.SCREENSHOT, **kwargs)["image"]
        if path is not None:
            save_png(path, image)
        return image

    @property
    def camera(self) -> Msg:
        """The main view's camera, as the image windows send theirs (docs/protocol.md,
        "Camera"): ``width, height, fx, fy, cx, cy, fov_x, fov_y, znear, zfar,
        world_to_camera, camera_to_world, view, projection, position`` plus ``target``
        (world coordinates). ``width``/``height`` are the view's size in pixels
        (headless: the configured screenshot size)."""
        msg = self._request(None, Message.QUERY_CAMERA)
        return {k: v for k, v in msg.items() if k not in ("type", "ref_seq")}

    def set_camera(self, position: Optional[npt.ArrayLike] = None, target: Optional[npt.ArrayLike] = None,
                   fov_y: Optional[float] = None) -> Optional[int]:
        """Points the main view's camera: from ``position`` at ``target`` (world
        coordinates) with vertical field of view ``fov_y`` (degrees); what is not
        given stays. In the window and headless alike; screenshots without a
        ``camera`` use it, and the view is no longer refitted when data arrives."""
        kwargs: dict[str, Any] = {}
        for key, value in (("position", position), ("target", target)):
            if value is not None:
                kwargs[key] = [float(x) for x in np.asarray(value, dtype=np.float64).reshape(-1)]
        if fov_y is not None:
            kwargs["fov_y"] = float(fov_y)
        return self._send(Message.SET_CAMERA, None, [], kwargs)

    def export_video(self, name: str = "video.mp4", fps: Optional[float] = None,
                     frames: Union[range, Sequence[int], npt.NDArray[Any], None] = None,
                     width: Optional[int] = None, height: Optional[int] = None, camera_path: Any = None,
                     orbit: bool = False, return_bytes: bool = False,
                     timeout: Optional[float] = None) -> Any:
        """Renders scene frames into a video in the viewer's export folder and
        returns its path on the viewer's machine (``.mp4`` H.264, ``.gif``, or
        ``.png`` for a folder of PNGs; ``name`` is a plain file name).

        ``frames``: a ``range`` or list of scene frames, one per video frame
        (default: all). ``width``/``height``/``fps`` default to the viewer's
        ``[viewer] video_width/video_height/video_fps``. ``camera_path``: a
        :class:`periscope.video.CameraPath`, :func:`periscope.video.orbit`,
        :func:`periscope.video.follow`, a dict in the TOML layout, or a TOML
        file's path; ``orbit=True`` turns around the scene; otherwise the main
        camera stays where it is. ``return_bytes=True`` returns ``(path, data)``
        with the file's bytes (a list of PNG bytes for a PNG sequence), for a
        viewer on another machine. Waits for the export (``timeout`` seconds,
        default ten minutes); raises :class:`ViewerError` naming a bad argument.
        """
        from .video import path_kwarg

        kwargs: dict[str, Any] = {"name": str(name)}
        if fps is not None:
            kwargs["fps"] = float(fps)
        if isinstance(frames, range):
            kwargs["frame_range"] = [frames.start, frames.stop, frames.step]
        elif frames is not None:
            kwargs["frames"] = [int(f) for f in np.asarray(frames).reshape(-1)]
        for key, value in (("width", width), ("height", height)):
            if value is not None:
                kwargs[key] = int(value)
        if camera_path is not None:
            kwargs["camera_path"] = path_kwarg(camera_path)
        if orbit:
            kwargs["orbit"] = True
        if return_bytes:
            kwargs["return_bytes"] = True
        msg = self._request(None, Message.EXPORT_VIDEO, _timeout=600.0 if timeout is None else timeout, **kwargs)
        path = str(msg["path"])
        if return_bytes:
            return path, msg["data"]
        return path

    def save_scene(self, name: str = "scene.psr") -> str:
        """Saves every node and frame in the viewer's export folder as ``name``
        (a plain file name); returns the path on the viewer's machine. Open it
        again with ``periscope FILE`` (or drop it on the window)."""
        return str(self._request(None, Message.SAVE_SCENE, name=str(name))["path"])

    def errors(self) -> list[Msg]:
        """Every error reply received so far (oldest first); clears the list."""
        with self._cond:
            out = list(self._errors)
            self._errors.clear()
        return out

    def sync(self, raise_errors: bool = True) -> Msg:
        """Waits until the viewer has handled everything sent so far.

        Raises :class:`ViewerError` if the viewer refused any message since the
        last ``sync``/``errors`` call (unless ``raise_errors=False``).
        Returns the scene state.
        """
        state = self.query()
        errors = self.errors()
        if errors and raise_errors:
            text = "; ".join(f"message {e.get('ref_seq')}: [{e.get('code')}] {e.get('message')}" for e in errors)
            raise ViewerError(f"the viewer refused {len(errors)} message(s): {text}",
                              code=errors[0].get("code"), seq=errors[0].get("ref_seq"))
        return state

    def get_message(self, block: bool = True, timeout: Optional[float] = None) -> Optional[Msg]:
        """The next message from the viewer as a dict (``msg["type"]`` is a
        :class:`Message` number), or None if none arrives in time (or the
        connection is gone and everything it brought was read)."""
        with self._cond:
            if block:
                self._cond.wait_for(lambda: self._pending or (self._ws is None and self._reading == 0), timeout)
            return self._pending.popleft() if self._pending else None

    def process_messages(self, handler: Callable[[RemoteViewer, Msg], object], block: bool = True,
                         timeout: Optional[float] = None) -> int:
        """Calls ``handler(viewer, msg)`` for each message received; with
        ``block`` waits for at least one. Returns how many were handled."""
        n = 0
        msg = self.get_message(block=block, timeout=timeout)
        while msg is not None:
            handler(self, msg)
            n += 1
            msg = self.get_message(block=False)
        return n


class RemoteNode:
    """A node on the viewer. Subclasses set ``MESSAGE_TYPE``."""

    MESSAGE_TYPE: int = Message.NODE

    def __init__(self, viewer: RemoteViewer, *args: Any, **kwargs: Any) -> None:
        self.viewer = viewer
        self.uid = viewer._next_uid()
        viewer._node_message(self.MESSAGE_TYPE, self.uid, args, kwargs)

    def add_frames(self, *args: Any, **kwargs: Any) -> Optional[int]:
        """Appends frames; data is ``(...)`` for one frame or ``(F, ...)``."""
        return self.viewer._node_message(Message.ADD_FRAMES, self.uid, args, kwargs)

    def update_frames(self, *args: Any, frames: Frames, **kwargs: Any) -> Optional[int]:
        """Replaces ``frames`` (an int, a list or a range); one frame of data
        is applied to every listed frame."""
        return self.viewer._node_message(Message.UPDATE_FRAMES, self.uid, args, dict(kwargs, frames=_frames(frames)))

    def remove_frames(self, frames: Frames) -> Optional[int]:
        """Removes ``frames`` (an int, a list or a range); later frames move up."""
        return self.viewer._send(Message.REMOVE_FRAMES, self.uid, [], {"frames": _frames(frames)})

    def set_properties(self, **properties: Any) -> Optional[int]:
        """Changes the node's ``name``, ``color``, ``enabled``, ``position``,
        ``rotation`` (3x3), ``scale`` or its kind's settings (``radius``,
        ``flat_shading``, ...) without resending its data."""
        return self.viewer._node_message(Message.SET_PROPERTIES, self.uid, (), properties)

    def delete(self) -> Optional[int]:
        """Removes the node from the viewer."""
        return self.viewer._send(Message.DELETE, self.uid, [], {})


def _frames(frames: Frames) -> Union[int, npt.NDArray[np.int64]]:
    if isinstance(frames, range):
        return np.arange(frames.start, frames.stop, frames.step, dtype=np.int64)
    if isinstance(frames, (int, np.integer)):
        return int(frames)
    return np.asarray(frames, dtype=np.int64)
