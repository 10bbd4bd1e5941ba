//! The signalling hub: SDP offers and answers, ICE candidates and epoch notices between the
//! devices of one call, over a WebSocket per device.
//!
//! Clients send JSON objects `{"type": T, "to"?: device, ...}` with `T` one of [`CLIENT_TYPES`];
//! the server checks the shape, stamps `from_user` and `from_device` (so nobody can speak for
//! another device) and forwards the object to `to` or to every other device of the call. It
//! does not read SDP or candidates. Server notices (`device_joined`, `key_packages`,
//! `participant_removed`, `removed`) come from the HTTP handlers.

use serde_json::{Map, Value};

/// Message types a device may send.
pub const CLIENT_TYPES: &[&str] = &["offer", "answer", "ice", "epoch", "frame", "hello"];
/// Largest signalling message accepted, in bytes.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// One message for the devices of a call.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Only this device, or every device but `from_device`.
    pub to: Option<String>,
    /// The sending device (none for server notices).
    pub from_device: Option<String>,
    /// The JSON text to send.
    pub text: String,
    /// After a removal: the devices whose sockets must close.
    pub close: Vec<String>,
}

impl Notice {
    /// A server notice to every device.
    pub fn server(body: Value) -> Self {
        Self {
            to: None,
            from_device: None,
            text: body.to_string(),
            close: Vec::new(),
        }
    }

    /// Whether the socket of `device` should get this notice.
    pub fn is_for(&self, device: &str) -> bool {
        match (&self.to, &self.from_device) {
            (Some(t), _) => t == device,
            (None, Some(f)) => f != device,
            (None, None) => true,
        }
    }
}

/// A signalling message that cannot be relayed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BadMessage(pub &'static str);

/// Checks a client message and stamps its origin; returns the notice to forward.
pub fn from_client(text: &str, user: &str, device: &str) -> Result<Notice, BadMessage> {
    if text.len() > MAX_MESSAGE {
        return Err(BadMessage("message too large"));
    }
    let mut obj: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(o)) => o,
        _ => return Err(BadMessage("message must be a JSON object")),
    };
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    if !CLIENT_TYPES.contains(&ty) {
        return Err(BadMessage("field `type` is not a signalling message type"));
    }
    let to = match obj.get("to") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 64 => Some(s.clone()),
        Some(_) => return Err(BadMessage("field `to` must be a device id")),
    };
    obj.insert("from_user".into(), Value::String(user.to_owned()));
    obj.insert("from_device".into(), Value::String(device.to_owned()));
    Ok(Notice {
        to,
        from_device: Some(device.to_owned()),
        text: Value::Object(obj).to_string(),
        close: Vec::new(),
    })
}
