//! Controls, events, selection and the view camera: the Rust side of the
//! Python client's `v.gui`, `on_select`, `on_camera`, `select` and
//! `set_camera`. The client has no threads: events are read with
//! [`Viewer::next_event`] (other replies stay queued for [`Viewer::recv`]).

use std::time::{Duration, Instant};

use periscope_protocol::{Event, MessageType, Reply, Value};

use crate::{ClientError, Kwarg, QUERY_TIMEOUT, Viewer, kw};

/// A control this client defined.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlRef {
    /// The viewer-wide id (what [`Viewer::set_control`] and other clients use).
    pub id: u64,
    /// This client's id for it.
    pub uid: i64,
    /// The control as the viewer describes it (`kind`, `label`, `value`, ...).
    pub state: Value,
}

impl Viewer {
    fn control_of(reply: Reply) -> Result<Value, ClientError> {
        match reply {
            Reply::ControlState(s) => Ok(s.control),
            _ => Err(ClientError::Protocol("control_state without a control".into())),
        }
    }

    /// Defines a control (`kind`: slider, number, checkbox, dropdown, text,
    /// color, button) with its fields (`min`, `max`, `step`, `value`, `log`,
    /// `options`, `folder`, `disabled`, `visible`). Refusals name the field.
    pub fn add_control(&mut self, kind: &str, label: &str, mut fields: Vec<Kwarg>) -> Result<ControlRef, ClientError> {
        let uid = self.next_control_uid;
        self.next_control_uid += 1;
        fields.insert(0, kw("label", label));
        fields.insert(0, kw("kind", kind));
        let seq = self.send_message(MessageType::AddControl.as_i64(), Some(uid), vec![], fields)?;
        let state = Self::control_of(self.await_answer(seq, MessageType::ControlState, QUERY_TIMEOUT)?)?;
        let id = state
            .get("id")
            .and_then(Value::as_i64)
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| ClientError::Protocol("control without id".into()))?;
        Ok(ControlRef { id, uid, state })
    }

    /// Changes this client's control `uid` from code (no event): `value`,
    /// `label`, `disabled`, `visible`, `min`, `max`, ...
    pub fn update_control(&mut self, uid: i64, fields: Vec<Kwarg>) -> Result<u64, ClientError> {
        self.send_message(MessageType::UpdateControl.as_i64(), Some(uid), vec![], fields)
    }

    /// Removes this client's control `uid`.
    pub fn remove_control(&mut self, uid: i64) -> Result<u64, ClientError> {
        self.send_message(MessageType::RemoveControl.as_i64(), Some(uid), vec![], vec![])
    }

    /// Changes any control as a person in the window would (a button: `true`
    /// presses it); its owner gets an event. Returns the control's new state.
    pub fn set_control(&mut self, control_id: u64, value: impl Into<Value>) -> Result<Value, ClientError> {
        let fields = vec![kw("control_id", control_id), kw("value", value)];
        let seq = self.send_message(MessageType::SetControl.as_i64(), None, vec![], fields)?;
        Self::control_of(self.await_answer(seq, MessageType::ControlState, QUERY_TIMEOUT)?)
    }

    /// Every control in the viewer.
    pub fn controls(&mut self) -> Result<Vec<Value>, ClientError> {
        let seq = self.send_message(MessageType::QueryControls.as_i64(), None, vec![], vec![])?;
        match self.await_answer(seq, MessageType::Controls, QUERY_TIMEOUT)? {
            Reply::Controls(list) => Ok(list.controls),
            _ => Err(ClientError::Protocol("controls answer without a list".into())),
        }
    }

    /// Asks for selection and/or camera events (control events always come).
    pub fn subscribe(&mut self, select: bool, camera: bool) -> Result<u64, ClientError> {
        let fields = vec![kw("select", select), kw("camera", camera)];
        self.send_message(MessageType::Subscribe.as_i64(), None, vec![], fields)
    }

    /// Selects this client's node `uid` (`None` clears the selection).
    pub fn select(&mut self, uid: Option<i64>) -> Result<u64, ClientError> {
        self.send_message(MessageType::Select.as_i64(), uid, vec![], vec![])
    }

    /// Points the main view: from `position` at `target` (world), `fov_y` degrees.
    pub fn set_camera(
        &mut self,
        position: Option<[f32; 3]>,
        target: Option<[f32; 3]>,
        fov_y: Option<f32>,
    ) -> Result<u64, ClientError> {
        let point = |p: [f32; 3]| Value::from(p.to_vec());
        let mut fields = Vec::new();
        if let Some(p) = position {
            fields.push(kw("position", point(p)));
        }
        if let Some(t) = target {
            fields.push(kw("target", point(t)));
        }
        if let Some(f) = fov_y {
            fields.push(kw("fov_y", f64::from(f)));
        }
        self.send_message(MessageType::SetCamera.as_i64(), None, vec![], fields)
    }

    /// The next event (a control of this client's changed, the selection or
    /// the camera), waiting up to `timeout`; other messages stay queued.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        if let Some(i) = self.pending.iter().position(|r| matches!(r, Reply::Event(_))) {
            let Some(Reply::Event(e)) = self.pending.remove(i) else { unreachable!("found an event") };
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_timeout(left)? {
                Some(Reply::Event(e)) => return Ok(Some(e)),
                Some(r) => self.stash(r),
                None if left.is_zero() || Instant::now() >= deadline => return Ok(None),
                None => {}
            }
        }
    }
}
