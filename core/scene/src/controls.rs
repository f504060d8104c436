//! Controls: sliders, checkboxes, dropdowns, text fields, numbers, colors and
//! buttons that clients, scripts and plugins define in the viewer's Controls
//! panel (`add_control`, `update_control`, `remove_control`), and that anyone
//! changes as a person would (`set_control`: the panel, another client, a
//! script). A change is answered by an `event` message to the control's owner.
//!
//! Controls live in the scene so that they pass the dispatch chain and the
//! recorder like every other change, and a replay rebuilds them. Every message
//! is checked whole before anything changes; errors name the field.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use web_time::Instant;

use periscope_protocol::kwargs::{describe, read_client_id, read_floats};
use periscope_protocol::limits::{MAX_EXACT_INT, excerpt, excerpt_list};
use periscope_protocol::{
    ControlEvent, ControlList, ControlState, Envelope, Event, FieldError, MessageType, Reply, Value,
};

use crate::error::{SceneError, err};
use crate::handler::Applied;
use crate::node::ClientId;
use crate::scene::Scene;

/// The viewer-wide id of a control.
pub type ControlId = u64;

/// Longest label or folder, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;
/// Longest text value, in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most options of a dropdown.
pub const MAX_OPTIONS: usize = 1024;
/// Most bytes of a dropdown's options together (like a text value).
pub const MAX_OPTIONS_BYTES: usize = 64 * 1024;

/// Whether `v` is an integer an f64 cannot hold exactly (beyond ±2^53): such
/// numbers are refused rather than silently rounded.
fn inexact_int(v: &Value) -> bool {
    match *v {
        Value::Int(i) => i.unsigned_abs() > MAX_EXACT_INT as u64,
        Value::UInt(_) => true, // only used above i64::MAX
        _ => false,
    }
}

/// What a control is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlKind {
    Slider,
    Number,
    Checkbox,
    Dropdown,
    Text,
    Color,
    Button,
}

impl ControlKind {
    pub const ALL: [ControlKind; 7] = [
        ControlKind::Slider,
        ControlKind::Number,
        ControlKind::Checkbox,
        ControlKind::Dropdown,
        ControlKind::Text,
        ControlKind::Color,
        ControlKind::Button,
    ];

    /// The wire name (`slider`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ControlKind::Slider => "slider",
            ControlKind::Number => "number",
            ControlKind::Checkbox => "checkbox",
            ControlKind::Dropdown => "dropdown",
            ControlKind::Text => "text",
            ControlKind::Color => "color",
            ControlKind::Button => "button",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A control's value, by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlValue {
    /// Sliders and numbers.
    Number(f64),
    Bool(bool),
    /// Dropdowns (one of the options) and text fields.
    Text(String),
    /// RGB in 0..=1.
    Color([f32; 3]),
    /// Buttons have no value.
    None,
}

impl ControlValue {
    /// As a number (0 for non-numbers).
    pub fn as_f64(&self) -> f64 {
        match self {
            ControlValue::Number(x) => *x,
            ControlValue::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }
    }
}

/// One control.
#[derive(Clone, Debug, PartialEq)]
pub struct Control {
    pub id: ControlId,
    /// The client that defined it (its events go there).
    pub client: ClientId,
    /// The owner's id for it.
    pub uid: i64,
    pub kind: ControlKind,
    pub label: String,
    /// A folder path inside the owner's section (`"Advanced"`, `"A/B"`; empty: top level).
    pub folder: String,
    pub value: ControlValue,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub step: Option<f64>,
    /// A slider on a logarithmic scale (`min > 0`).
    pub log: bool,
    /// A number or slider whose values are whole (all of value, min, max and step were ints).
    pub integer: bool,
    pub options: Vec<String>,
    pub disabled: bool,
    pub visible: bool,
    /// Button presses so far.
    pub clicks: u64,
}

impl Control {
    /// The value as sent to clients (`int` for whole numbers).
    pub fn value_to_wire(&self) -> Value {
        match &self.value {
            ControlValue::Number(x) if self.integer => Value::Int(*x as i64),
            ControlValue::Number(x) => Value::Float(*x),
            ControlValue::Bool(b) => Value::Bool(*b),
            ControlValue::Text(s) => Value::from(s.as_str()),
            ControlValue::Color(c) => Value::from(c.to_vec()),
            ControlValue::None => Value::Nil,
        }
    }

    fn number(&self, x: f64) -> Value {
        if self.integer { Value::Int(x as i64) } else { Value::Float(x) }
    }

    /// The control as `query_controls` and `control_state` describe it.
    pub fn to_value(&self, client_name: &str, connected: bool) -> Value {
        let opt = |x: Option<f64>| x.map_or(Value::Nil, |x| self.number(x));
        Value::map([
            ("id", Value::from(self.id)),
            ("client_id", Value::from(self.client)),
            ("client_name", Value::from(client_name)),
            ("connected", Value::Bool(connected)),
            ("uid", Value::Int(self.uid)),
            ("kind", Value::from(self.kind.name())),
            ("label", Value::from(self.label.as_str())),
            ("folder", Value::from(self.folder.as_str())),
            ("value", self.value_to_wire()),
            ("min", opt(self.min)),
            ("max", opt(self.max)),
            ("step", opt(self.step)),
            ("log", Value::Bool(self.log)),
            ("options", Value::Array(self.options.iter().map(|o| Value::from(o.as_str())).collect())),
            ("disabled", Value::Bool(self.disabled)),
            ("visible", Value::Bool(self.visible)),
            ("clicks", Value::from(self.clicks)),
        ])
    }

    /// Checks `v` as a value for this control; the error names the field `value`.
    pub fn coerce(&self, msg: &str, v: &Value) -> Result<ControlValue, SceneError> {
        let bad = |expected: String| {
            err("bad_value", format!("{msg}: field \"value\" must be {expected}, found {}", describe(v)))
        };
        match self.kind {
            ControlKind::Slider | ControlKind::Number => {
                let x = v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| bad("a finite number".into()))?;
                if inexact_int(v) || (self.integer && x.abs() > MAX_EXACT_INT as f64) {
                    return Err(bad(format!("within ±{MAX_EXACT_INT} (2^53, what a control holds exactly)")));
                }
                if self.integer && x.fract() != 0.0 {
                    return Err(bad("a whole number".into()));
                }
                let (lo, hi) = (self.min.unwrap_or(f64::NEG_INFINITY), self.max.unwrap_or(f64::INFINITY));
                if x < lo || x > hi {
                    return Err(bad(format!("in {}..={}", fmt_num(lo), fmt_num(hi))));
                }
                Ok(ControlValue::Number(x))
            }
            ControlKind::Checkbox => v.as_bool().map(ControlValue::Bool).ok_or_else(|| bad("a bool".into())),
            ControlKind::Dropdown => {
                // Quoted as an excerpt: a 1024-option dropdown does not echo every option.
                let one_of = || bad(format!("one of [{}]", excerpt_list(self.options.iter().map(String::as_str))));
                let s = v.as_str().ok_or_else(one_of)?;
                if !self.options.iter().any(|o| o == s) {
                    return Err(one_of());
                }
                Ok(ControlValue::Text(s.to_owned()))
            }
            ControlKind::Text => {
                let s = v.as_str().ok_or_else(|| bad("a str".into()))?;
                if s.len() > MAX_TEXT_BYTES {
                    return Err(bad(format!("at most {MAX_TEXT_BYTES} bytes")));
                }
                Ok(ControlValue::Text(s.to_owned()))
            }
            ControlKind::Color => {
                let expected = "3 numbers in 0..=1";
                let c = read_floats(msg, "value", v, expected)?;
                if !c.iter().all(|x| (0.0..=1.0).contains(x)) {
                    return Err(FieldError::new(msg, "value", expected, format!("{c:?}")).into());
                }
                Ok(ControlValue::Color(c))
            }
            ControlKind::Button => match v {
                Value::Nil | Value::Bool(true) => Ok(ControlValue::None),
                _ => Err(bad("true (a press) or nil".into())),
            },
        }
    }

    /// Checks the control's own fields against each other.
    fn check(&self, msg: &str) -> Result<(), SceneError> {
        let field = |f: &str, expected: &str, found: String| {
            err("bad_value", format!("{msg}: field \"{f}\" must be {expected}, found {found}"))
        };
        if self.label.is_empty() || self.label.len() > MAX_LABEL_BYTES {
            let found = format!("{} bytes", self.label.len());
            return Err(field("label", &format!("a str of 1..={MAX_LABEL_BYTES} bytes"), found));
        }
        if self.folder.len() > MAX_LABEL_BYTES {
            let found = format!("{} bytes", self.folder.len());
            return Err(field("folder", &format!("at most {MAX_LABEL_BYTES} bytes"), found));
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max)
            && lo > hi
        {
            return Err(field("min", &format!("<= max ({})", fmt_num(hi)), fmt_num(lo)));
        }
        if self.kind == ControlKind::Slider {
            if self.min.is_none() || self.max.is_none() {
                let f = if self.min.is_none() { "min" } else { "max" };
                return Err(field(f, "a finite number (sliders need a range)", "nothing".into()));
            }
            if self.log && self.min.is_some_and(|m| m <= 0.0) {
                return Err(field("min", "> 0 for a log slider", fmt_num(self.min.unwrap_or(0.0))));
            }
        }
        if let Some(s) = self.step
            && s <= 0.0
        {
            return Err(field("step", "a positive number", fmt_num(s)));
        }
        if self.kind == ControlKind::Dropdown {
            if self.options.is_empty() || self.options.len() > MAX_OPTIONS {
                let found = format!("{} options", self.options.len());
                return Err(field("options", &format!("a list of 1..={MAX_OPTIONS} strs"), found));
            }
            if let Some(o) = self.options.iter().find(|o| o.len() > MAX_LABEL_BYTES) {
                let found = format!("an option of {} bytes", o.len());
                return Err(field("options", &format!("strs of at most {MAX_LABEL_BYTES} bytes"), found));
            }
            let bytes: usize = self.options.iter().map(String::len).sum();
            if bytes > MAX_OPTIONS_BYTES {
                let found = format!("{bytes} bytes of options");
                return Err(field("options", &format!("at most {MAX_OPTIONS_BYTES} bytes together"), found));
            }
        }
        // The value must still fit the (possibly changed) range and options.
        let current = match &self.value {
            ControlValue::Number(x) => Value::Float(*x),
            _ => self.value_to_wire(),
        };
        self.coerce(msg, &current).map(|_| ())
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x != 0.0 && !(1e-4..1e15).contains(&x.abs()) {
        format!("{x:e}") // not 300 digits for 1e300
    } else {
        format!("{x}")
    }
}

/// Every control, by id (creation order), with the owners' uids (ordered, so
/// a client's controls are a range) and how many each client has: adding,
/// counting and finding a client's controls never scans every control.
#[derive(Debug, Default)]
pub struct Controls {
    map: BTreeMap<ControlId, Control>,
    by_remote: BTreeMap<(ClientId, i64), ControlId>,
    per_client: HashMap<ClientId, usize>,
    next_id: ControlId,
    /// Bumped on every change, so the panel knows when to look again.
    pub version: u64,
    /// While views are attached: the controls changed since the last
    /// `Scene::take_changes` (every change passes `insert`, `remove` or `put`).
    dirty: Option<std::collections::BTreeSet<ControlId>>,
}

impl Controls {
    /// Controls in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Control> {
        self.map.values()
    }

    pub fn get(&self, id: ControlId) -> Option<&Control> {
        self.map.get(&id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The control a client calls `uid`.
    pub fn by_remote(&self, client: ClientId, uid: i64) -> Option<&Control> {
        self.by_remote.get(&(client, uid)).and_then(|id| self.map.get(id))
    }

    /// How many controls `client` has.
    pub fn count(&self, client: ClientId) -> usize {
        self.per_client.get(&client).copied().unwrap_or(0)
    }

    /// The controls of `client`, by uid.
    pub fn of_client(&self, client: ClientId) -> impl Iterator<Item = &Control> {
        self.by_remote.range((client, i64::MIN)..=(client, i64::MAX)).filter_map(|(_, id)| self.map.get(id))
    }

    /// A uid that `client` has not used for a control yet.
    pub fn free_uid(&self, client: ClientId) -> i64 {
        let last = self.by_remote.range((client, i64::MIN)..=(client, i64::MAX)).next_back();
        last.map_or(0, |((_, uid), _)| *uid).max(0).saturating_add(1)
    }

    /// Starts or stops noting which controls change (for views).
    pub(crate) fn track(&mut self, on: bool) {
        self.dirty = on.then(Default::default);
    }

    /// The controls changed since the last call.
    pub(crate) fn take_dirty(&mut self) -> std::collections::BTreeSet<ControlId> {
        self.dirty.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn mark(&mut self, id: ControlId) {
        if let Some(d) = self.dirty.as_mut() {
            d.insert(id);
        }
    }

    fn insert(&mut self, mut control: Control) -> ControlId {
        let id = match self.by_remote.get(&(control.client, control.uid)) {
            Some(&id) => id,
            None => {
                *self.per_client.entry(control.client).or_default() += 1;
                self.next_id += 1;
                self.next_id
            }
        };
        control.id = id;
        self.by_remote.insert((control.client, control.uid), id);
        self.map.insert(id, control);
        self.version += 1;
        self.mark(id);
        id
    }

    fn remove(&mut self, id: ControlId) -> Option<Control> {
        let c = self.map.remove(&id)?;
        self.mark(id);
        self.by_remote.remove(&(c.client, c.uid));
        if let Some(n) = self.per_client.get_mut(&c.client) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&c.client);
            }
        }
        self.version += 1;
        Some(c)
    }

    /// Puts `control` under its own id (a view's mirror copies the hub's controls).
    pub(crate) fn put(&mut self, control: Control) {
        self.remove_id(control.id);
        *self.per_client.entry(control.client).or_default() += 1;
        self.next_id = self.next_id.max(control.id);
        self.by_remote.insert((control.client, control.uid), control.id);
        self.mark(control.id);
        self.map.insert(control.id, control);
        self.version += 1;
    }

    /// Removes the control `id` (if any).
    pub(crate) fn remove_id(&mut self, id: ControlId) -> Option<Control> {
        self.remove(id)
    }

    /// Removes every control of `client`; returns how many.
    pub fn remove_client(&mut self, client: ClientId) -> usize {
        let ids: Vec<ControlId> = self.of_client(client).map(|c| c.id).collect();
        for id in &ids {
            self.remove(*id);
        }
        ids.len()
    }
}

/// The kwargs `add_control` and `update_control` read.
const FIELDS: &[&str] =
    &["kind", "label", "folder", "value", "min", "max", "step", "log", "options", "disabled", "visible"];

impl Scene {
    /// The controls clients, scripts and plugins defined.
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    fn read_control_fields(
        &self,
        msg: &str,
        env: &Envelope,
        c: &mut Control,
        applied: &mut Applied,
    ) -> Result<Option<Value>, SceneError> {
        let field = |f: &str, expected: &str, v: &Value| {
            err("bad_value", format!("{msg}: field \"{f}\" must be {expected}, found {}", describe(v)))
        };
        let num = |f: &str, v: &Value| -> Result<Option<f64>, SceneError> {
            if v.is_nil() {
                return Ok(None);
            }
            if inexact_int(v) {
                return Err(field(f, &format!("within ±{MAX_EXACT_INT} (2^53, what a control holds exactly)"), v));
            }
            v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| field(f, "a finite number", v))
        };
        let flag = |f: &str, v: &Value| v.as_bool().ok_or_else(|| field(f, "a bool", v));
        let text = |f: &str, v: &Value| v.as_str().map(str::to_owned).ok_or_else(|| field(f, "a str", v));
        let mut value = None;
        let mut ints = true;
        let mut unknown = Vec::new();
        for (key, v) in &env.kwargs {
            match key.as_str() {
                "kind" if msg == "add_control" => {} // read by the caller
                "label" => c.label = text(key, v)?,
                "folder" => c.folder = if v.is_nil() { String::new() } else { text(key, v)? },
                "value" => value = Some(v.clone()),
                "min" | "max" | "step" => {
                    let x = num(key, v)?;
                    ints &= v.is_nil() || matches!(v, Value::Int(_) | Value::UInt(_));
                    match key.as_str() {
                        "min" => c.min = x,
                        "max" => c.max = x,
                        _ => c.step = x,
                    }
                }
                "log" => c.log = flag(key, v)?,
                "disabled" => c.disabled = flag(key, v)?,
                "visible" => c.visible = flag(key, v)?,
                "options" => {
                    let Value::Array(items) = v else { return Err(field(key, "a list of strs", v)) };
                    if items.len() > MAX_OPTIONS {
                        let found = format!("{} options", items.len());
                        return Err(err(
                            "bad_value",
                            format!("{msg}: field \"options\" must be a list of 1..={MAX_OPTIONS} strs, found {found}"),
                        ));
                    }
                    c.options = items.iter().map(|o| text("options", o)).collect::<Result<_, _>>()?;
                }
                "control_id" | "client_id" => {}
                other => unknown.push(other),
            }
        }
        if !unknown.is_empty() {
            // One warning for all of them, quoted as an excerpt.
            let (s, list) = (if unknown.len() == 1 { "" } else { "s" }, excerpt_list(unknown));
            applied.warn(
                "unknown_kwarg",
                format!("{msg}: ignored unknown kwarg{s} {list} (known: {})", FIELDS.join(", ")),
            );
        }
        if msg == "add_control" && matches!(c.kind, ControlKind::Number | ControlKind::Slider) {
            ints &= value.as_ref().is_none_or(|v| matches!(v, Value::Int(_) | Value::UInt(_) | Value::Nil));
            c.integer = ints && (c.kind == ControlKind::Number || c.step.is_some());
        }
        Ok(value)
    }

    fn add_control(&mut self, client: ClientId, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        const MSG: &str = "add_control";
        let uid =
            env.uid.ok_or_else(|| err("missing_arg", "add_control needs a uid (the owner's id for the control)"))?;
        let kinds = || ControlKind::ALL.map(ControlKind::name).join(", ");
        let kind = match env.kwarg("kind") {
            None => return Err(err("missing_arg", format!("{MSG}: field \"kind\" is required (one of {})", kinds()))),
            Some(v) => v.as_str().and_then(ControlKind::parse).ok_or_else(|| {
                err("bad_value", format!("{MSG}: field \"kind\" must be one of {}, found {}", kinds(), describe(v)))
            })?,
        };
        if env.kwarg("label").is_none() {
            return Err(err("missing_arg", format!("{MSG}: field \"label\" is required")));
        }
        let limit = self.config.max_controls_per_client;
        let replaces = self.controls.by_remote(client, uid).is_some();
        let mine = self.controls.count(client);
        if !replaces && limit > 0 && mine >= limit {
            return Err(err(
                "limit",
                format!("this client already has {mine} controls (scene.max_controls_per_client)"),
            ));
        }
        // All clients together, lingering controls of clients that left included:
        // reconnecting as new clients does not get around the per-client limit.
        let total = self.controls.len();
        if !replaces && self.config.max_controls > 0 && total >= self.config.max_controls {
            return Err(err("limit", format!("the viewer already holds {total} controls (scene.max_controls)")));
        }
        let mut c = Control {
            id: 0,
            client,
            uid,
            kind,
            label: String::new(),
            folder: String::new(),
            value: ControlValue::None,
            min: None,
            max: None,
            step: None,
            log: false,
            integer: false,
            options: Vec::new(),
            disabled: false,
            visible: true,
            clicks: 0,
        };
        let value = self.read_control_fields(MSG, env, &mut c, applied)?;
        c.value = match (&value, kind) {
            (Some(v), _) if !v.is_nil() => c.coerce(MSG, v)?,
            (_, ControlKind::Slider | ControlKind::Number) => {
                ControlValue::Number(c.min.unwrap_or(0.0).max(0.0).min(c.max.unwrap_or(f64::INFINITY)))
            }
            (_, ControlKind::Checkbox) => ControlValue::Bool(false),
            (_, ControlKind::Dropdown) => ControlValue::Text(c.options.first().cloned().unwrap_or_default()),
            (_, ControlKind::Text) => ControlValue::Text(String::new()),
            (_, ControlKind::Color) => ControlValue::Color([1.0; 3]),
            (_, ControlKind::Button) => ControlValue::None,
        };
        if kind == ControlKind::Slider && value.as_ref().is_none_or(Value::is_nil) {
            c.value = ControlValue::Number(c.min.unwrap_or(0.0));
        }
        c.check(MSG)?;
        let id = self.controls.insert(c);
        self.answer_control(client, env, id, applied);
        self.touch();
        Ok(())
    }

    /// The `control_state` answer to the sender of `env`.
    fn answer_control(&self, client: ClientId, env: &Envelope, id: ControlId, applied: &mut Applied) {
        let state = ControlState { ref_seq: env.seq, control: self.control_value(id) };
        applied.replies.push((client, Reply::ControlState(state)));
    }

    /// A control as a map, with its owner's name.
    pub fn control_value(&self, id: ControlId) -> Value {
        let Some(c) = self.controls.get(id) else { return Value::Nil };
        let owner = self.client(c.client);
        let connected = owner.is_none_or(|o| o.connected);
        c.to_value(owner.map_or("", |o| o.name.as_str()), connected)
    }

    /// The control a message names: kwarg `control_id` (any control), else its
    /// `uid` (the sender's, or with kwarg `client_id` another client's).
    fn lookup_control(&self, msg: &str, client: ClientId, env: &Envelope, any: bool) -> Result<ControlId, SceneError> {
        if any && let Some(v) = env.kwarg("control_id").filter(|v| !v.is_nil()) {
            let id = v.as_i64().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| {
                err("bad_value", format!("{msg}: field \"control_id\" must be a control id, found {}", describe(v)))
            })?;
            return self
                .controls
                .get(id)
                .map(|c| c.id)
                .ok_or_else(|| err("unknown_control", format!("{msg}: no control with control_id {id}")));
        }
        let uid = env.uid.ok_or_else(|| err("missing_arg", format!("{msg} needs a control_id or a uid")))?;
        let owner = match env.kwarg("client_id").filter(|v| any && !v.is_nil()) {
            Some(v) => read_client_id(msg, "client_id", v)?,
            None => client,
        };
        self.controls
            .by_remote(owner, uid)
            .map(|c| c.id)
            .ok_or_else(|| err("unknown_control", format!("{msg}: no control with uid {uid} for client {owner}")))
    }

    fn update_control(&mut self, client: ClientId, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        const MSG: &str = "update_control";
        let id = self.lookup_control(MSG, client, env, false)?;
        let mut c = self.controls.get(id).cloned().expect("looked up");
        let value = self.read_control_fields(MSG, env, &mut c, applied)?;
        if let Some(v) = value.filter(|v| !v.is_nil()) {
            if c.kind == ControlKind::Button {
                return Err(err("bad_value", format!("{MSG}: field \"value\": a button has no value")));
            }
            c.value = c.coerce(MSG, &v)?;
        }
        c.check(MSG)?;
        self.controls.insert(c);
        self.touch();
        Ok(())
    }

    fn remove_control(&mut self, client: ClientId, env: &Envelope) -> Result<(), SceneError> {
        let id = self.lookup_control("remove_control", client, env, false)?;
        self.controls.remove(id);
        self.touch();
        Ok(())
    }

    /// `set_control`: a change as a person makes it; the owner gets an event.
    fn set_control(&mut self, client: ClientId, env: &Envelope, applied: &mut Applied) -> Result<(), SceneError> {
        const MSG: &str = "set_control";
        let id = self.lookup_control(MSG, client, env, true)?;
        let c = self.controls.get(id).expect("looked up");
        if c.disabled {
            return Err(err("disabled", format!("{MSG}: control {} (id {id}) is disabled", excerpt(&c.label))));
        }
        let v = env.kwarg("value").or(env.args.first()).cloned().unwrap_or(Value::Nil);
        if v.is_nil() && c.kind != ControlKind::Button {
            return Err(err("missing_arg", format!("{MSG}: field \"value\" is required")));
        }
        let value = c.coerce(MSG, &v)?;
        let mut c = c.clone();
        let action = if c.kind == ControlKind::Button {
            c.clicks += 1;
            "click"
        } else {
            c.value = value;
            "update"
        };
        let by = self.client(client).map_or_else(String::new, |i| i.name.clone());
        let event = Reply::Event(Event::Control(ControlEvent {
            action: action.to_owned(),
            control_id: c.id,
            uid: c.uid,
            kind: c.kind.name().to_owned(),
            label: c.label.clone(),
            value: if action == "click" { Value::Bool(true) } else { c.value_to_wire() },
            client_id: client,
            client_name: by,
        }));
        applied.replies.push((c.client, event));
        let id = self.controls.insert(c);
        self.answer_control(client, env, id, applied);
        self.touch();
        Ok(())
    }

    fn query_controls(&self, client: ClientId, env: &Envelope, applied: &mut Applied) {
        let list = self.controls.iter().map(|c| self.control_value(c.id)).collect();
        applied.replies.push((client, Reply::Controls(ControlList { ref_seq: env.seq, controls: list })));
    }

    /// Applies a control message (the handler's part for types 318..=323).
    pub(crate) fn apply_control(
        &mut self,
        client: ClientId,
        t: MessageType,
        env: &Envelope,
        applied: &mut Applied,
    ) -> Result<(), SceneError> {
        match t {
            MessageType::AddControl => self.add_control(client, env, applied),
            MessageType::UpdateControl => self.update_control(client, env, applied),
            MessageType::RemoveControl => self.remove_control(client, env),
            MessageType::SetControl => self.set_control(client, env, applied),
            MessageType::QueryControls => {
                self.query_controls(client, env, applied);
                Ok(())
            }
            _ => unreachable!("not a control message: {}", t.name()),
        }
    }

    /// Removes `client`'s controls in `folder` (a script's, when the script
    /// file is deleted); returns how many.
    pub fn remove_controls_in(&mut self, client: ClientId, folder: &str) -> usize {
        let ids: Vec<ControlId> =
            self.controls.of_client(client).filter(|c| c.folder == folder).map(|c| c.id).collect();
        for id in &ids {
            self.controls.remove(*id);
        }
        if !ids.is_empty() {
            self.touch();
        }
        ids.len()
    }

    /// Removes the controls of clients that disconnected `linger` or longer
    /// ago (their session is over; a client that resumes in time keeps them).
    /// Returns how long until the next one is due, if any are waiting.
    pub fn expire_controls(&mut self, linger: Duration, now: Instant) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        let mut gone = Vec::new();
        for c in self.clients.values() {
            let Some(at) = c.disconnected_at else { continue };
            if self.controls.count(c.id) == 0 {
                continue;
            }
            let age = now.saturating_duration_since(at);
            if age >= linger {
                gone.push(c.id);
            } else {
                let left = linger - age;
                next = Some(next.map_or(left, |n| n.min(left)));
            }
        }
        for id in gone {
            let n = self.controls.remove_client(id);
            tracing::info!(client = id, controls = n, "removed the controls of a client that did not come back");
            self.touch();
        }
        next
    }
}

#[cfg(test)]
mod limit_tests {
    use periscope_protocol::{Envelope, MessageType as T, Value};

    use crate::{Scene, SceneConfig};

    fn add(uid: i64, fields: &[(&str, Value)]) -> Envelope {
        fields.iter().fold(Envelope::new(T::AddControl.as_i64()).with_uid(uid), |e, (k, v)| e.with_kwarg(k, v.clone()))
    }

    fn button(uid: i64) -> Envelope {
        add(uid, &[("kind", "button".into()), ("label", "b".into())])
    }

    #[test]
    fn errors_quote_options_and_values_as_excerpts() {
        let mut s = Scene::new(SceneConfig::default());
        s.client_connected(1, "a", "x");
        let options = Value::Array((0..1024).map(|i| Value::from(format!("option {i}"))).collect());
        s.apply(1, &add(1, &[("kind", "dropdown".into()), ("label", "D".into()), ("options", options)])).unwrap();
        let id = s.controls().by_remote(1, 1).unwrap().id;
        let set = Envelope::new(T::SetControl.as_i64()).with_kwarg("control_id", id).with_kwarg("value", "nope");
        let e = s.apply(1, &set).unwrap_err().message;
        assert!(e.len() < 400 && e.contains("and 1016 more") && e.ends_with("found \"nope\""), "{e}");
        // Too many options is refused before they are read; too many bytes of them too.
        let many = Value::Array((0..5000).map(|_| Value::from("o")).collect());
        let e = s.apply(1, &add(2, &[("kind", "dropdown".into()), ("label", "D".into()), ("options", many)]));
        assert!(e.unwrap_err().message.contains("found 5000 options"));
        let fat = Value::Array((0..300).map(|_| Value::from("x".repeat(250))).collect());
        let e = s.apply(1, &add(2, &[("kind", "dropdown".into()), ("label", "D".into()), ("options", fat)]));
        assert!(e.unwrap_err().message.contains("at most 65536 bytes together, found 75000 bytes"));
        // Unknown kwargs: one warning, excerpted.
        let mut env = button(3);
        for i in 0..100 {
            env = env.with_kwarg(&format!("junk{i}"), Value::Nil);
        }
        let applied = s.apply(1, &env).unwrap();
        assert_eq!(applied.warnings.len(), 1);
        assert!(applied.warnings[0].message.contains("and 92 more"), "{}", applied.warnings[0].message);
        // Huge floats are not spelled out in 300 digits.
        s.apply(1, &add(4, &[("kind", "number".into()), ("label", "N".into()), ("max", Value::Float(1.0))])).unwrap();
        let id = s.controls().by_remote(1, 4).unwrap().id;
        let set = Envelope::new(T::SetControl.as_i64()).with_kwarg("control_id", id).with_kwarg("value", 1e300);
        let e = s.apply(1, &set).unwrap_err().message;
        assert!(e.ends_with("found 1e300"), "{e}");
    }

    #[test]
    fn the_total_bounds_controls_across_clients_and_counts_are_kept() {
        let mut s = Scene::new(SceneConfig { max_controls_per_client: 2, max_controls: 5, ..SceneConfig::default() });
        for client in 1..=3 {
            s.client_connected(client, "c", "x");
            for uid in 1..=2 {
                let r = s.apply(client, &button(uid));
                if client == 3 && uid == 2 {
                    let e = r.unwrap_err();
                    assert_eq!(e.code, "limit");
                    assert!(e.message.contains("scene.max_controls"), "{}", e.message);
                } else {
                    r.unwrap();
                }
            }
            s.client_disconnected(client);
        }
        let c = s.controls();
        assert_eq!((c.len(), c.count(1), c.count(3), c.count(9)), (5, 2, 1, 0));
        assert_eq!(c.of_client(2).map(|k| k.uid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(c.free_uid(2), 3);
        assert_eq!(c.free_uid(9), 1);
        // Replacing one is not a new one, even at the total.
        s.apply(1, &button(1)).unwrap();
        let now = web_time::Instant::now() + std::time::Duration::from_secs(60);
        s.expire_controls(std::time::Duration::from_secs(30), now);
        assert_eq!((s.controls().len(), s.controls().count(1)), (0, 0), "expired controls free the total");
    }
}
