//! Controls defined by scripts: `add_slider("Gain", 0.0, 1.0, 0.5)` and its
//! siblings return a handle whose `.value` is the control's current value.
//! A script's controls belong to the viewer's own client (0) and sit in a
//! folder named after the script; adding one that exists (same script, same
//! label, same kind) returns it with its current value, so a hot reload keeps
//! what the person set. Every change is a message applied by the scene's
//! handler (`add_control`, `update_control`, `set_control`), like a client's.

use std::sync::Arc;

use periscope_protocol::{Envelope, MessageType, Value};
use periscope_scene::{ControlId, ControlKind, VIEWER_CLIENT};
use rhai::{Array, Dynamic, Engine, INT, Map};

use super::api::{Res, Shared, Target, lock};
use super::convert::{to_dynamic, to_value};

/// A control as scripts hold it: the viewer-wide control id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlHandle(pub ControlId);

/// Applies one control message as the scripts' client; answers for other
/// clients (a `set_control`'s event) go out with the script's replies.
fn apply(c: &Shared, env: &Envelope) -> Res<()> {
    let mut g = lock(c);
    let applied = g.scene.apply(VIEWER_CLIENT, env).map_err(|e| e.message)?;
    for w in applied.warnings {
        tracing::warn!(script = %g.script, "{}", w.message);
    }
    for (client, reply) in applied.replies {
        if client != VIEWER_CLIENT {
            g.replies.push((Target::Client(client), reply));
        }
    }
    Ok(())
}

fn add(c: &Shared, kind: ControlKind, label: &str, fields: Vec<(&str, Value)>) -> Res<ControlHandle> {
    let (existing, uid, folder) = {
        let g = lock(c);
        let folder = g.script.clone();
        // The scripts' client's controls only (not every client's).
        let mine = g.scene.controls().of_client(VIEWER_CLIENT).find(|k| k.folder == folder && k.label == label);
        match mine {
            Some(k) if k.kind == kind => (Some(k.id), k.uid, folder),
            Some(k) => (None, k.uid, folder),
            None => (None, g.scene.controls().free_uid(VIEWER_CLIENT), folder),
        }
    };
    if let Some(id) = existing {
        return Ok(ControlHandle(id));
    }
    let mut env = Envelope::new(MessageType::AddControl.as_i64())
        .with_uid(uid)
        .with_kwarg("kind", kind.name())
        .with_kwarg("label", label)
        .with_kwarg("folder", folder.as_str());
    for (k, v) in fields {
        env = env.with_kwarg(k, v);
    }
    apply(c, &env)?;
    let g = lock(c);
    Ok(ControlHandle(g.scene.controls().by_remote(VIEWER_CLIENT, uid).expect("just added").id))
}

fn num(d: &Dynamic) -> Res<Value> {
    to_value(d).map_err(Into::into)
}

fn gone(id: ControlId) -> Box<rhai::EvalAltResult> {
    format!("control {id} no longer exists").into()
}

pub(crate) fn register_controls(e: &mut Engine, ctx: &Shared) {
    e.register_type_with_name::<ControlHandle>("Control");
    e.register_get("id", |h: &mut ControlHandle| h.0 as INT);
    let c = Arc::clone(ctx);
    e.register_get("value", move |h: &mut ControlHandle| -> Res<Dynamic> {
        let g = lock(&c);
        let k = g.scene.controls().get(h.0).ok_or_else(|| gone(h.0))?;
        Ok(to_dynamic(&k.value_to_wire()))
    });
    let c = Arc::clone(ctx);
    e.register_get("clicks", move |h: &mut ControlHandle| -> Res<INT> {
        let g = lock(&c);
        Ok(g.scene.controls().get(h.0).ok_or_else(|| gone(h.0))?.clicks as INT)
    });
    let c = Arc::clone(ctx);
    e.register_get("label", move |h: &mut ControlHandle| -> Res<String> {
        let g = lock(&c);
        Ok(g.scene.controls().get(h.0).ok_or_else(|| gone(h.0))?.label.clone())
    });
    // Setting `.value` of the script's own control changes it without an event,
    // like a client's `control.value = x`.
    let c = Arc::clone(ctx);
    e.register_set("value", move |h: &mut ControlHandle, v: Dynamic| -> Res<()> {
        let uid = {
            let g = lock(&c);
            let k = g.scene.controls().get(h.0).ok_or_else(|| gone(h.0))?;
            if k.client != VIEWER_CLIENT {
                return Err("only the control's owner sets .value; use set_control(id, value)".into());
            }
            k.uid
        };
        let env = Envelope::new(MessageType::UpdateControl.as_i64()).with_uid(uid).with_kwarg("value", num(&v)?);
        apply(&c, &env)
    });
    e.register_fn("==", |a: ControlHandle, b: ControlHandle| a == b);
    e.register_fn("to_string", |h: &mut ControlHandle| format!("Control({})", h.0));
    e.register_fn("to_debug", |h: &mut ControlHandle| format!("Control({})", h.0));

    let c = Arc::clone(ctx);
    e.register_fn("add_slider", move |label: &str, min: Dynamic, max: Dynamic, value: Dynamic| {
        add(&c, ControlKind::Slider, label, vec![("min", num(&min)?), ("max", num(&max)?), ("value", num(&value)?)])
    });
    let c = Arc::clone(ctx);
    e.register_fn("add_checkbox", move |label: &str, value: bool| {
        add(&c, ControlKind::Checkbox, label, vec![("value", Value::Bool(value))])
    });
    let c = Arc::clone(ctx);
    e.register_fn("add_button", move |label: &str| add(&c, ControlKind::Button, label, vec![]));
    let c = Arc::clone(ctx);
    e.register_fn("add_dropdown", move |label: &str, options: Array, value: &str| {
        let options = to_value(&Dynamic::from_array(options))?;
        add(&c, ControlKind::Dropdown, label, vec![("options", options), ("value", Value::from(value))])
    });
    let c = Arc::clone(ctx);
    e.register_fn("add_text", move |label: &str, value: &str| {
        add(&c, ControlKind::Text, label, vec![("value", Value::from(value))])
    });
    let c = Arc::clone(ctx);
    e.register_fn("add_number", move |label: &str, value: Dynamic| {
        add(&c, ControlKind::Number, label, vec![("value", num(&value)?)])
    });
    // Any kind with every option: add_control("slider", "Gain", #{min: 0.0, max: 1.0, log: false}).
    let c = Arc::clone(ctx);
    e.register_fn("add_control", move |kind: &str, label: &str, opts: Map| -> Res<ControlHandle> {
        let k = ControlKind::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| {
            format!("add_control: kind must be one of {}", ControlKind::ALL.map(ControlKind::name).join(", "))
        })?;
        let mut fields = Vec::new();
        for (key, v) in &opts {
            fields.push((key.as_str(), to_value(v)?));
        }
        add(&c, k, label, fields)
    });
    // Changes any control as a person would: its owner gets an event.
    let c = Arc::clone(ctx);
    e.register_fn("set_control", move |id: INT, value: Dynamic| -> Res<()> {
        let env = Envelope::new(MessageType::SetControl.as_i64())
            .with_kwarg("control_id", id)
            .with_kwarg("value", num(&value)?);
        apply(&c, &env)
    });
    let c = Arc::clone(ctx);
    e.register_fn("controls", move || -> Array {
        let g = lock(&c);
        g.scene.controls().iter().map(|k| to_dynamic(&g.scene.control_value(k.id))).collect()
    });
}

/// Message type numbers by name (`types::SET_CONTROL`), for `process_message`.
pub(crate) fn register_types(e: &mut Engine) {
    let mut m = rhai::Module::new();
    for t in MessageType::ALL {
        m.set_var(t.const_name(), t.as_i64());
    }
    e.register_static_module("types", m.into());
}
