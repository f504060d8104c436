//! Compatibility with the unmodified aitviewer remote client
//! (`aitviewer.remote`, which sends `pickle.dumps({"type", "uid", "args", "kwargs"})`).
//!
//! aitviewer's own server calls `pickle.loads` on network input, so anyone who
//! can reach its port can run code. This crate instead decodes pickles with a
//! small virtual machine that knows only the data opcodes and a short list of
//! globals (numpy array reconstruction, aitviewer's `Message` enum, `range`),
//! and builds plain [`Value`]s from them. Any other global is refused; nothing
//! is ever imported or called.

mod aitviewer;
mod pickle;
mod pickler;

pub use aitviewer::{envelope_from_pickle, is_pickle};
pub use pickle::{PickleError, PickleLimits, unpickle};
pub use pickler::pickle_value;

pub use periscope_protocol::Value;
