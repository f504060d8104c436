//! Client -> server messages: `{type, uid, args, kwargs, seq}`.

use crate::types::{MessageType, PROTOCOL_NAME};
use crate::value::Value;

/// One client message as it travels on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The message type number (see [`MessageType`]); kept raw so that
    /// unknown and user types (>= 10000) pass through the dispatch chain.
    pub kind: i64,
    /// The client's id for the node this message is about, if any.
    pub uid: Option<i64>,
    pub args: Vec<Value>,
    /// Keyword arguments in wire order.
    pub kwargs: Vec<(String, Value)>,
    /// The client's sequence number for this message; the server cites it in replies.
    pub seq: Option<u64>,
    /// The frame this envelope was decoded from, when it came as MessagePack:
    /// lets plugins borrow `args`/`kwargs` as MessagePack without re-encoding.
    pub raw: Option<RawFrame>,
}

/// A received frame and where its `args` and `kwargs` values are in it.
#[derive(Clone, Debug, PartialEq)]
pub struct RawFrame {
    pub frame: bytes::Bytes,
    pub args: Option<std::ops::Range<usize>>,
    pub kwargs: Option<std::ops::Range<usize>>,
}

impl RawFrame {
    /// The MessagePack of `args` (an empty array if the frame had none).
    pub fn args(&self) -> &[u8] {
        self.args.as_ref().map_or(&[0x90], |r| &self.frame[r.clone()])
    }

    /// The MessagePack of `kwargs` (an empty map if the frame had none).
    pub fn kwargs(&self) -> &[u8] {
        self.kwargs.as_ref().map_or(&[0x80], |r| &self.frame[r.clone()])
    }
}

/// Why a decoded value is not an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("a message must be a MessagePack map, found {0}")]
    NotAMap(String),
    #[error("message field \"type\" is missing")]
    MissingType,
    #[error("message field {field:?} must be {expected}, found {found}")]
    FieldType { field: &'static str, expected: &'static str, found: String },
    #[error("kwargs keys must be strings, found {0}")]
    KwargKey(String),
}

impl Envelope {
    /// A message of `kind` with no uid, args or kwargs.
    pub fn new(kind: impl Into<i64>) -> Self {
        Self { kind: kind.into(), uid: None, args: Vec::new(), kwargs: Vec::new(), seq: None, raw: None }
    }

    pub fn with_uid(mut self, uid: i64) -> Self {
        self.uid = Some(uid);
        self
    }

    pub fn with_kwarg(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.kwargs.push((key.to_owned(), value.into()));
        self
    }

    pub fn with_arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// The known message type, if any.
    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::from_i64(self.kind)
    }

    /// The keyword argument `key`, if given.
    pub fn kwarg(&self, key: &str) -> Option<&Value> {
        self.kwargs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Reads an envelope from a decoded map; unknown fields are ignored.
    pub fn from_value(v: Value) -> Result<Self, EnvelopeError> {
        let Value::Map(entries) = v else {
            return Err(EnvelopeError::NotAMap(v.type_name()));
        };
        let mut env = Envelope::new(0);
        let mut have_type = false;
        for (k, v) in entries {
            let field = match k.as_str() {
                Some(f) => f,
                None => continue,
            };
            match field {
                "type" => {
                    env.kind = v.as_i64().ok_or_else(|| field_type("type", "an integer", &v))?;
                    have_type = true;
                }
                "uid" => {
                    env.uid = match v {
                        Value::Nil => None,
                        ref other => Some(other.as_i64().ok_or_else(|| field_type("uid", "an integer or nil", other))?),
                    }
                }
                "args" => {
                    env.args = match v {
                        Value::Array(items) => items,
                        Value::Nil => Vec::new(),
                        other => return Err(field_type("args", "a list", &other)),
                    }
                }
                "kwargs" => {
                    env.kwargs = match v {
                        Value::Map(entries) => entries
                            .into_iter()
                            .map(|(k, v)| match k {
                                Value::Str(s) => Ok((s, v)),
                                other => Err(EnvelopeError::KwargKey(other.type_name())),
                            })
                            .collect::<Result<_, _>>()?,
                        Value::Nil => Vec::new(),
                        other => return Err(field_type("kwargs", "a map", &other)),
                    }
                }
                "seq" => {
                    env.seq = match v {
                        Value::Nil => None,
                        ref other => Some(
                            other
                                .as_i64()
                                .and_then(|s| u64::try_from(s).ok())
                                .ok_or_else(|| field_type("seq", "a non-negative integer", other))?,
                        ),
                    }
                }
                _ => {}
            }
        }
        if !have_type {
            return Err(EnvelopeError::MissingType);
        }
        Ok(env)
    }

    /// Decodes a received frame, keeping it (shared, not copied) with the
    /// positions of `args` and `kwargs`.
    pub fn decode_frame(frame: bytes::Bytes, limits: crate::DecodeLimits) -> Result<Self, String> {
        let (v, spans) = crate::decode::decode_value_with_spans(&frame, limits).map_err(|e| e.to_string())?;
        let mut env = Self::from_value(v).map_err(|e| e.to_string())?;
        let span = |key: &str| spans.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone());
        env.raw = Some(RawFrame { args: span("args"), kwargs: span("kwargs"), frame });
        Ok(env)
    }

    /// Like [`Self::decode_frame`]; arrays may refer to parts that arrived
    /// before (`ARRAY_PART`, [`crate::Transfers`]). A frame that did is not
    /// kept as `raw` (it lacks those arrays' data): consumers re-encode it.
    pub fn decode_frame_with(
        frame: bytes::Bytes,
        limits: crate::DecodeLimits,
        transfers: &mut crate::Transfers,
    ) -> Result<Self, String> {
        let (v, spans, used) =
            crate::decode::decode_value_with_transfers(&frame, limits, transfers).map_err(|e| e.to_string())?;
        let mut env = Self::from_value(v).map_err(|e| e.to_string())?;
        if used == 0 {
            let span = |key: &str| spans.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone());
            env.raw = Some(RawFrame { args: span("args"), kwargs: span("kwargs"), frame });
        }
        Ok(env)
    }

    /// The wire form of this envelope.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![
            (Value::from("type"), Value::Int(self.kind)),
            (Value::from("uid"), Value::from(self.uid)),
            (Value::from("args"), Value::Array(self.args.clone())),
            (
                Value::from("kwargs"),
                Value::Map(self.kwargs.iter().map(|(k, v)| (Value::from(k.as_str()), v.clone())).collect()),
            ),
        ];
        if let Some(seq) = self.seq {
            entries.push((Value::from("seq"), Value::from(seq)));
        }
        Value::Map(entries)
    }
}

fn field_type(field: &'static str, expected: &'static str, found: &Value) -> EnvelopeError {
    EnvelopeError::FieldType { field, expected, found: found.type_name() }
}

/// The handshake a client sends first (`type = 500`), read from its kwargs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub protocol: String,
    pub version: u32,
    pub client_name: String,
    /// Shared secret, required when the server has one configured.
    pub token: Option<String>,
    /// A session token from an earlier `welcome`, to take that client's nodes back.
    pub session: Option<String>,
    /// `role = "view"`: the connection is a view of the scene (it gets a
    /// snapshot and then every change; docs/protocol.md, "Views").
    pub view: bool,
}

impl Hello {
    /// A hello for this build's protocol.
    pub fn new(client_name: impl Into<String>) -> Self {
        Self {
            protocol: PROTOCOL_NAME.to_owned(),
            version: crate::PROTOCOL_VERSION,
            client_name: client_name.into(),
            token: None,
            session: None,
            view: false,
        }
    }

    /// Reads a hello from an envelope; the error text is sent in the refusal.
    pub fn from_envelope(env: &Envelope) -> Result<Self, String> {
        if env.kind != MessageType::Hello.as_i64() {
            return Err(format!(
                "the first message must be hello (type {}), got type {}",
                MessageType::Hello.as_i64(),
                env.kind
            ));
        }
        let text = |key: &str| env.kwarg(key).and_then(Value::as_str).map(str::to_owned);
        let protocol = text("protocol").ok_or("hello is missing kwarg \"protocol\"")?;
        let version = env
            .kwarg("version")
            .and_then(Value::as_i64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or("hello is missing integer kwarg \"version\"")?;
        // Every query answer lists the clients by name: bounded like node names.
        let client_name = text("client_name").unwrap_or_else(|| "client".to_owned());
        if client_name.len() > crate::limits::MAX_NAME_BYTES {
            return Err(format!(
                "hello: field \"client_name\" must be at most {} bytes, found {} bytes",
                crate::limits::MAX_NAME_BYTES,
                client_name.len()
            ));
        }
        let view = match env.kwarg("role") {
            None | Some(Value::Nil) => false,
            Some(v) => match v.as_str() {
                Some("view") => true,
                Some("client") => false,
                _ => return Err("hello: field \"role\" must be \"client\" or \"view\"".to_owned()),
            },
        };
        Ok(Self { protocol, version, client_name, token: text("token"), session: text("session"), view })
    }

    pub fn to_envelope(&self) -> Envelope {
        let mut env = Envelope::new(MessageType::Hello.as_i64())
            .with_kwarg("protocol", self.protocol.as_str())
            .with_kwarg("version", self.version as i64)
            .with_kwarg("client_name", self.client_name.as_str());
        if let Some(t) = &self.token {
            env = env.with_kwarg("token", t.as_str());
        }
        if let Some(s) = &self.session {
            env = env.with_kwarg("session", s.as_str());
        }
        if self.view {
            env = env.with_kwarg("role", "view");
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeLimits, decode_value, encode_value};

    #[test]
    fn envelope_round_trip() {
        let mut env = Envelope::new(2).with_uid(4).with_arg(1.5f64).with_kwarg("name", "cube");
        env.seq = Some(9);
        let back = Envelope::from_value(decode_value(&encode_value(&env.to_value()), DecodeLimits::default()).unwrap());
        assert_eq!(back.unwrap(), env);
    }

    #[test]
    fn envelope_errors_name_the_field() {
        assert_eq!(
            Envelope::from_value(Value::Int(3)).unwrap_err().to_string(),
            "a message must be a MessagePack map, found int"
        );
        assert_eq!(Envelope::from_value(Value::map([("uid", Value::Int(1))])).unwrap_err(), EnvelopeError::MissingType);
        let e = Envelope::from_value(Value::map([("type", Value::from("x"))])).unwrap_err();
        assert_eq!(e.to_string(), "message field \"type\" must be an integer, found str");
    }

    #[test]
    fn a_hello_with_a_huge_client_name_is_refused() {
        let mut hello = Hello::new("x".repeat(crate::limits::MAX_NAME_BYTES + 1));
        let err = Hello::from_envelope(&hello.to_envelope()).unwrap_err();
        assert!(err.contains("\"client_name\" must be at most 1024 bytes"), "{err}");
        hello.client_name = "y".repeat(crate::limits::MAX_NAME_BYTES);
        assert!(Hello::from_envelope(&hello.to_envelope()).is_ok());
    }

    #[test]
    fn hello_round_trip_and_refusals() {
        let mut h = Hello::new("test");
        h.session = Some("abc".into());
        assert_eq!(Hello::from_envelope(&h.to_envelope()).unwrap(), h);
        assert!(Hello::from_envelope(&Envelope::new(2)).unwrap_err().contains("first message must be hello"));
    }
}
