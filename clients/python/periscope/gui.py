"""Controls in the viewer's Controls panel, and the events they send back.

``v.gui.add_slider(...)`` and its siblings define a control owned by this
client; a person (or another client, or a script) changing it sends an event
that updates ``control.value`` and runs the control's callbacks. Callbacks run
on one thread of the client (``periscope-events``), never on the socket reader,
or on the caller's thread with :meth:`RemoteViewer.process_events`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from .message import Message

log = logging.getLogger("periscope")

if TYPE_CHECKING:
    from .viewer import Msg, RemoteViewer

F = TypeVar("F", bound=Callable[..., Any])


class Event:
    """Something that happened in the viewer, as callbacks receive it.

    Every event has ``kind`` (``"control"``, ``"select"`` or ``"camera"``) and
    ``raw`` (the message as sent). Control events: ``value``, ``control``
    (the :class:`Control`), ``action`` (``"update"`` or ``"click"``),
    ``client`` (the id of the client that made the change: 0 is a person in
    the viewer's window, or a script), ``client_name``. Selection events:
    ``node`` (this client's uid of the selected node, or None), ``node_id``,
    ``client_id`` (the node's owner), ``name``, ``point`` (the hit point, or
    None). Camera events: ``camera`` (the dict :attr:`RemoteViewer.camera` returns)
    and ``view``: whose camera it is (0: the viewer's own window; otherwise the
    client id of a ``periscope --connect`` view, the one a person moved last).
    """

    def __init__(self, kind: str, raw: Msg, **fields: Any) -> None:
        self.kind = kind
        self.raw = raw
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:  # fields of other event kinds read as None
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.__dict__.items() if k not in ("raw", "control")}
        return f"Event({shown})"


class Control:
    """A control in the viewer's Controls panel, owned by this client.

    ``value`` is its current value (updated when anyone changes it); setting
    it changes the control from code (no callback runs). ``label``,
    ``disabled`` and ``visible`` can be set too; :meth:`remove` deletes it.
    """

    def __init__(self, gui: Gui, uid: int, kind: str, label: str, state: Msg, spec: dict[str, Any]) -> None:
        self._gui = gui
        self.uid = uid
        self.kind = kind
        self._label = label
        #: What add_control sent (kept current), to define it again in a restarted viewer.
        self._spec = spec
        self._callbacks: list[Callable[[Event], object]] = []
        self._apply(state)

    def _apply(self, state: Msg) -> None:
        self.id: int = state["id"]
        self._value = state.get("value")
        self._disabled = bool(state.get("disabled", False))
        self._visible = bool(state.get("visible", True))
        self._label = state.get("label", self._label)

    def __repr__(self) -> str:
        return f"Control({self.kind} {self._label!r} id={self.id} value={self._value!r})"

    def _update(self, **fields: Any) -> None:
        self._spec.update({k: v for k, v in fields.items() if k != "value"})
        self._gui._viewer._send(Message.UPDATE_CONTROL, self.uid, [], fields)

    @property
    def value(self) -> Any:
        """The current value (None for a button)."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = _plain(value)
        self._update(value=self._value)

    @property
    def label(self) -> str:
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = str(label)
        self._update(label=self._label)

    @property
    def disabled(self) -> bool:
        return self._disabled

    @disabled.setter
    def disabled(self, disabled: bool) -> None:
        self._disabled = bool(disabled)
        self._update(disabled=self._disabled)

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, visible: bool) -> None:
        self._visible = bool(visible)
        self._update(visible=self._visible)

    def on_update(self, fn: F) -> F:
        """Decorator: ``fn(event)`` runs whenever the control's value is changed
        by a person, another client or a script (``event.value``)."""
        self._callbacks.append(fn)
        self._gui._viewer._want_events()
        return fn

    #: Buttons: ``fn(event)`` runs on each press.
    on_click = on_update

    def remove(self) -> None:
        """Removes the control from the viewer."""
        self._gui._controls.pop(self.uid, None)
        self._gui._viewer._send(Message.REMOVE_CONTROL, self.uid, [], {})


def _plain(value: Any) -> Any:
    """numpy scalars and tuples as plain Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class Gui:
    """The controls of one :class:`RemoteViewer` (``v.gui``)."""

    def __init__(self, viewer: RemoteViewer) -> None:
        self._viewer = viewer
        self._uid = itertools.count(1)
        self._controls: dict[int, Control] = {}
        self._folders = threading.local()

    def _folder(self) -> Optional[str]:
        stack: list[str] = getattr(self._folders, "stack", [])
        return "/".join(stack) if stack else None

    @contextlib.contextmanager
    def add_folder(self, label: str) -> Iterator[None]:
        """``with v.gui.add_folder("Advanced"):`` puts the controls added inside
        into a collapsible folder (folders nest)."""
        stack: list[str] = getattr(self._folders, "stack", [])
        self._folders.stack = [*stack, str(label)]
        try:
            yield
        finally:
            self._folders.stack = stack

    def _add(self, kind: str, label: str, **fields: Any) -> Control:
        uid = next(self._uid)
        kwargs = {"kind": kind, "label": label, **{k: _plain(v) for k, v in fields.items() if v is not None}}
        folder = self._folder()
        if folder is not None:
            kwargs["folder"] = folder
        state = self._viewer._request(uid, Message.ADD_CONTROL, **kwargs)["control"]
        spec = {k: v for k, v in kwargs.items() if k != "value"}
        control = Control(self, uid, kind, label, state, spec)
        self._controls[uid] = control
        return control

    def _restore(self) -> None:
        """Defines every control again, with its current value, in a viewer
        that does not know this client (it restarted, or the session ended)."""
        for uid, control in sorted(self._controls.items()):
            kwargs = dict(control._spec)
            if control._value is not None and control.kind != "button":
                kwargs["value"] = control._value
            try:
                control._apply(self._viewer._request(uid, Message.ADD_CONTROL, **kwargs)["control"])
            except (ConnectionError, TimeoutError, RuntimeError) as e:
                log.warning("could not define control %r again: %s", control.label, e)

    def add_slider(self, label: str, min: float, max: float, step: Optional[float] = None,
                   value: Optional[float] = None, log: bool = False, disabled: bool = False,
                   visible: bool = True) -> Control:
        """A slider from ``min`` to ``max`` (``log=True``: logarithmic, ``min > 0``);
        ``value`` defaults to ``min``. Sliders send while dragging (at most every 10 ms)."""
        return self._add("slider", label, min=min, max=max, step=step, value=value, log=log or None,
                         disabled=disabled or None, visible=None if visible else False)

    def add_number(self, label: str, value: float = 0, min: Optional[float] = None, max: Optional[float] = None,
                   step: Optional[float] = None, disabled: bool = False, visible: bool = True) -> Control:
        """A number field; whole numbers when ``value``, ``min``, ``max`` and ``step`` are ints."""
        return self._add("number", label, value=value, min=min, max=max, step=step, disabled=disabled or None,
                         visible=None if visible else False)

    def add_checkbox(self, label: str, value: bool = False, disabled: bool = False, visible: bool = True) -> Control:
        return self._add("checkbox", label, value=bool(value), disabled=disabled or None,
                         visible=None if visible else False)

    def add_dropdown(self, label: str, options: Sequence[str], value: Optional[str] = None,
                     disabled: bool = False, visible: bool = True) -> Control:
        """One of ``options`` (``value`` defaults to the first)."""
        return self._add("dropdown", label, options=[str(o) for o in options], value=value,
                         disabled=disabled or None, visible=None if visible else False)

    def add_text(self, label: str, value: str = "", disabled: bool = False, visible: bool = True) -> Control:
        """A text field; an event is sent when the person presses Enter or leaves it."""
        return self._add("text", label, value=str(value), disabled=disabled or None,
                         visible=None if visible else False)

    def add_color(self, label: str, value: Sequence[float] = (1.0, 1.0, 1.0), disabled: bool = False,
                  visible: bool = True) -> Control:
        """An RGB color, 3 floats in 0..1."""
        return self._add("color", label, value=[float(x) for x in value], disabled=disabled or None,
                         visible=None if visible else False)

    def add_button(self, label: str, disabled: bool = False, visible: bool = True) -> Control:
        """A button: ``@button.on_click`` runs on each press."""
        return self._add("button", label, disabled=disabled or None, visible=None if visible else False)

    def list(self) -> list[Msg]:
        """Every control in the viewer (any client's, scripts', plugins'): dicts
        with ``id, client_id, client_name, connected, uid, kind, label, folder,
        value, min, max, step, log, options, disabled, visible, clicks``."""
        controls: list[Msg] = self._viewer._request(None, Message.QUERY_CONTROLS)["controls"]
        return controls

    def set(self, control_id: int, value: Any = True) -> Msg:
        """Changes any control exactly as a person in the window would (a
        button: ``set(id, True)`` presses it): its owner's callbacks run.
        Returns the control's new state; raises :class:`ViewerError` naming
        the field when the viewer refuses."""
        control: Msg = self._viewer._request(None, Message.SET_CONTROL, control_id=int(control_id),
                                             value=_plain(value))["control"]
        return control

    def __iter__(self) -> Iterator[Control]:
        return iter(list(self._controls.values()))
