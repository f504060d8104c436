//! A rhai script as a chain stage.
//!
//! A script is compiled once per change; its top-level statements run once
//! into a persistent `Scope` (so top-level variables keep their values across
//! messages), then `init()` runs if defined. Each message calls
//! `process_message(type, uid, args, kwargs, client)`. A file that fails to
//! compile keeps the last good version running.

pub mod api;
pub mod controls;
pub mod convert;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use periscope_scene::Scene;
use rhai::{AST, CallFnOptions, Dynamic, Engine, INT, Map, Scope};

use self::api::{Shared, Target, lock};
use self::convert::{map_of, to_dynamic};
use crate::{Flow, Incoming, Outbox, Stage, StageError};

struct Loaded {
    ast: AST,
    scope: Scope<'static>,
    has_process: bool,
}

/// One script file in the chain.
pub struct ScriptStage {
    path: PathBuf,
    name: String,
    engine: Arc<Engine>,
    ctx: Shared,
    loaded: Option<Loaded>,
    /// Hash of the source last tried, so unchanged files are not reloaded.
    source_hash: Option<u64>,
    generation: u64,
    load_error: Option<String>,
}

fn has_fn(ast: &AST, name: &str, params: usize) -> bool {
    ast.iter_functions().any(|f| f.name == name && f.params.len() == params)
}

impl ScriptStage {
    /// A stage for `path`; call [`Stage::reload`] to load it.
    pub fn new(path: PathBuf, engine: Arc<Engine>, ctx: Shared) -> Self {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Self { path, name, engine, ctx, loaded: None, source_hash: None, generation: 0, load_error: None }
    }

    /// Runs `f` with the scene moved into the script context, then moves it
    /// back and delivers queued replies. Panics inside are caught.
    fn with_scene<T>(
        &mut self,
        scene: &mut Scene,
        out: Option<&dyn Outbox>,
        f: impl FnOnce(&Engine, &mut Option<Loaded>) -> T,
    ) -> Result<T, String> {
        {
            let mut g = lock(&self.ctx);
            g.scene = std::mem::take(scene);
            g.script.clone_from(&self.name);
        }
        let engine = Arc::clone(&self.engine);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(&engine, &mut self.loaded)));
        let replies = {
            let mut g = lock(&self.ctx);
            *scene = std::mem::take(&mut g.scene);
            std::mem::take(&mut g.replies)
        };
        if let Some(out) = out {
            for (target, reply) in replies {
                match target {
                    Target::Client(id) => {
                        out.send(id, reply);
                    }
                    Target::All => {
                        out.broadcast(&reply);
                    }
                }
            }
        }
        result.map_err(|p| {
            let what = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            format!("panicked: {}", what.unwrap_or_default())
        })
    }

    fn compile_and_init(&mut self, source: &str, scene: &mut Scene) -> Result<(), String> {
        let name = self.name.clone();
        let mut ast = self.engine.compile(source).map_err(|e| format!("{name}: {e}"))?;
        ast.set_source(name.as_str());
        let has_process = has_fn(&ast, "process_message", 5);
        let has_init = has_fn(&ast, "init", 0);
        let mut fresh = Some(Loaded { ast, scope: Scope::new(), has_process });
        self.with_scene(scene, None, |engine, _| {
            let l = fresh.as_mut().expect("set above");
            engine.run_ast_with_scope(&mut l.scope, &l.ast).map_err(|e| format!("{name}: {e}"))?;
            if has_init {
                let opts = CallFnOptions::new().eval_ast(false).rewind_scope(false);
                let _: Dynamic = engine
                    .call_fn_with_options(opts, &mut l.scope, &l.ast, "init", ())
                    .map_err(|e| format!("{name}: init: {e}"))?;
            }
            Ok::<(), String>(())
        })??;
        if !has_process {
            tracing::warn!(script = %name, "script defines no process_message(type, uid, args, kwargs, client)");
        }
        self.loaded = fresh;
        Ok(())
    }
}

impl Stage for ScriptStage {
    fn name(&self) -> &str {
        &self.name
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn load_error(&self) -> Option<&str> {
        self.load_error.as_deref()
    }

    fn reload(&mut self, scene: &mut Scene) -> bool {
        let source = match std::fs::read_to_string(&self.path) {
            Ok(s) => s,
            Err(e) => {
                self.load_error = Some(format!("cannot read {}: {e}", self.path.display()));
                return false;
            }
        };
        let mut h = DefaultHasher::new();
        source.hash(&mut h);
        let hash = h.finish();
        if self.source_hash == Some(hash) {
            return false;
        }
        self.source_hash = Some(hash);
        match self.compile_and_init(&source, scene) {
            Ok(()) => {
                self.generation += 1;
                self.load_error = None;
                tracing::info!(script = %self.name, generation = self.generation, "script loaded");
                true
            }
            Err(e) => {
                let keeping = if self.loaded.is_some() { "; the last good version keeps running" } else { "" };
                tracing::error!(script = %self.name, "script failed to load: {e}{keeping}");
                self.load_error = Some(e);
                false
            }
        }
    }

    fn process(&mut self, msg: &Incoming<'_>, scene: &mut Scene, out: &dyn Outbox) -> Result<Flow, StageError> {
        if !self.loaded.as_ref().is_some_and(|l| l.has_process) {
            return Ok(Flow::Continue);
        }
        let env = msg.envelope;
        let uid = env.uid.map_or(Dynamic::UNIT, Dynamic::from_int);
        let args: rhai::Array = env.args.iter().map(to_dynamic).collect();
        let kwargs = map_of(env.kwargs.iter().map(|(k, v)| (k.as_str(), v)));
        let mut client = Map::new();
        client.insert("id".into(), Dynamic::from_int(msg.client.id as INT));
        client.insert("name".into(), Dynamic::from(msg.client.name.to_owned()));
        client.insert("address".into(), Dynamic::from(msg.client.addr.to_owned()));
        let kind = env.kind;
        let name = self.name.clone();
        let result = self.with_scene(scene, Some(out), |engine, loaded| {
            let l = loaded.as_mut().expect("checked above");
            let opts = CallFnOptions::new().eval_ast(false);
            engine.call_fn_with_options::<Dynamic>(
                opts,
                &mut l.scope,
                &l.ast,
                "process_message",
                (kind, uid, args, kwargs, client),
            )
        });
        match result {
            Ok(Ok(d)) => Ok(if d.as_bool() == Ok(false) { Flow::Stop } else { Flow::Continue }),
            Ok(Err(e)) => {
                let message = match *e {
                    rhai::EvalAltResult::ErrorTooManyOperations(pos) => {
                        let at = if pos.is_none() { String::new() } else { format!(" at {pos}") };
                        format!(
                            "stopped after too many operations{at} (scripts.max_operations): is there an infinite loop?"
                        )
                    }
                    other => other.to_string(),
                };
                Err(StageError::Failed { stage: name, message })
            }
            Err(panic) => Err(StageError::Failed { stage: name, message: panic }),
        }
    }
}
