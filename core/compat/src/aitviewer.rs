//! aitviewer's message format: `pickle.dumps({"type": Message.X, "uid", "args", "kwargs"})`.

use periscope_protocol::Envelope;

use crate::pickle::{PickleLimits, unpickle};

/// True if a frame looks like a pickle (protocol 2+ starts with the PROTO opcode).
pub fn is_pickle(frame: &[u8]) -> bool {
    frame.first() == Some(&0x80)
}

/// Decodes one aitviewer message into an envelope, or says why not.
pub fn envelope_from_pickle(frame: &[u8]) -> Result<Envelope, String> {
    let v = unpickle(frame, PickleLimits::default()).map_err(|e| e.to_string())?;
    Envelope::from_value(v).map_err(|e| format!("not an aitviewer message: {e}"))
}
