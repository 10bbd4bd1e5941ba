//! What a lockdown covers, in its text form: `vault`, `user:ID`,
//! `token:ID`, `ip:CIDR`, `collection:NAME`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The reach of a lockdown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every request except incident responders'.
    Vault,
    /// One user (responders included).
    User(String),
    /// One bearer token, by its public id `pv_<16 hex>` (responders
    /// included).
    Token(String),
    /// A client network (responders included). Stored normalized: host bits
    /// cleared, IPv4-mapped IPv6 networks as IPv4.
    Ip(IpNet),
    /// One collection, except for incident responders.
    Collection(String),
}

/// A scope's text could not be parsed. The message never echoes the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Nothing was given.
    #[error(
        "scope is empty; expected `vault`, `user:ID`, `token:ID`, `ip:CIDR` or `collection:NAME`"
    )]
    Empty,
    /// The part before `:` is not a scope kind.
    #[error(
        "unknown scope kind; expected `vault`, `user:ID`, `token:ID`, `ip:CIDR` or `collection:NAME`"
    )]
    UnknownKind,
    /// `vault` followed by a value.
    #[error("scope `vault` takes no value")]
    VaultValue,
    /// A kind without its value.
    #[error("scope `{0}` needs a value after `:`")]
    MissingValue(&'static str),
    /// The value is not valid for its kind.
    #[error("scope `{kind}` value is invalid: {expected}")]
    InvalidValue {
        /// The scope kind.
        kind: &'static str,
        /// What was expected.
        expected: &'static str,
    },
}

/// A user id: 1-128 of letters, digits and `.`, `_`, `@`, `+`, `-` (the
/// server's user id rule).
pub(crate) fn valid_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_@+".contains(&b))
}

/// A token public id: `pv_` and 16 lowercase hex digits.
fn valid_token(s: &str) -> bool {
    s.strip_prefix("pv_").is_some_and(|id| {
        id.len() == 16
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A collection name: a lowercase letter, then lowercase letters, digits or
/// `_`, at most 64 (the schema's rule).
fn valid_collection(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && s.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Clears host bits and folds IPv4-mapped IPv6 networks into IPv4, so that
/// a network has one spelling and matches canonical client addresses.
pub(crate) fn normalize(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(n) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(n.trunc());
    }
    net.trunc()
}

fn parse_net(s: &str) -> Option<IpNet> {
    let net = match s.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => IpNet::from(s.parse::<IpAddr>().ok()?),
    };
    Some(normalize(net))
}

/// Shortest accepted prefixes: anything broader would also lock out the
/// responders (an `ip:` lockdown binds them), which is what `vault` is for
/// without that risk.
const MIN_PREFIX_V4: u8 = 8;
const MIN_PREFIX_V6: u8 = 16;

fn broad(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.prefix_len() < MIN_PREFIX_V4,
        IpNet::V6(n) => n.prefix_len() < MIN_PREFIX_V6,
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        let (kind, value) = match s.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        let kind = match kind {
            "vault" => return value.map_or(Ok(Self::Vault), |_| Err(ScopeError::VaultValue)),
            "user" => "user",
            "token" => "token",
            "ip" => "ip",
            "collection" => "collection",
            _ => return Err(ScopeError::UnknownKind),
        };
        let value = value
            .filter(|v| !v.is_empty())
            .ok_or(ScopeError::MissingValue(kind))?;
        let invalid = |expected| ScopeError::InvalidValue { kind, expected };
        match kind {
            "user" if valid_user(value) => Ok(Self::User(value.to_owned())),
            "user" => Err(invalid(
                "a user id is 1-128 letters, digits and `.`, `_`, `@`, `+`, `-`",
            )),
            "token" if valid_token(value) => Ok(Self::Token(value.to_owned())),
            "token" => Err(invalid(
                "a token public id is `pv_` and 16 hex digits (never the secret)",
            )),
            "ip" => match parse_net(value) {
                Some(n) if broad(&n) => Err(invalid(
                    "the network is broader than /8 (IPv4) or /16 (IPv6); use `vault`",
                )),
                Some(n) => Ok(Self::Ip(n)),
                None => Err(invalid("an IP address or CIDR network")),
            },
            _ if valid_collection(value) => Ok(Self::Collection(value.to_owned())),
            _ => Err(invalid(
                "a collection name is a lowercase letter then lowercase letters, digits or `_`",
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vault => f.write_str("vault"),
            Self::User(u) => write!(f, "user:{u}"),
            Self::Token(t) => write!(f, "token:{t}"),
            Self::Ip(n) => write!(f, "ip:{n}"),
            Self::Collection(c) => write!(f, "collection:{c}"),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_in_canonical_form() {
        for s in [
            "vault",
            "user:dr.house@example.org",
            "token:pv_0123456789abcdef",
            "ip:10.0.0.0/8",
            "ip:2001:db8::/32",
            "collection:patients",
        ] {
            let scope: Scope = s.parse().unwrap();
            assert_eq!(scope.to_string(), s);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        let host: Scope = "ip:192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "ip:192.0.2.7/32");
        let sloppy: Scope = "ip:192.0.2.7/24".parse().unwrap();
        assert_eq!(sloppy.to_string(), "ip:192.0.2.0/24");
        let mapped: Scope = "ip:::ffff:192.0.2.0/120".parse().unwrap();
        assert_eq!(mapped.to_string(), "ip:192.0.2.0/24");
    }

    #[test]
    fn bad_scopes_get_clear_errors_without_echo() {
        let err = |s: &str| s.parse::<Scope>().unwrap_err();
        assert_eq!(err(""), ScopeError::Empty);
        assert_eq!(err("everything"), ScopeError::UnknownKind);
        assert_eq!(err("vault:x"), ScopeError::VaultValue);
        assert_eq!(err("user:"), ScopeError::MissingValue("user"));
        assert_eq!(err("ip"), ScopeError::MissingValue("ip"));
        assert!(matches!(
            err("user:a b"),
            ScopeError::InvalidValue { kind: "user", .. }
        ));
        assert!(matches!(
            err("ip:10.0.0.0/33"),
            ScopeError::InvalidValue { kind: "ip", .. }
        ));
        assert!(matches!(
            err("collection:Patients"),
            ScopeError::InvalidValue { .. }
        ));
        // A whole bearer token (secret included) is refused, and not echoed.
        let secret = "token:pv_0123456789abcdef_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U";
        let e = err(secret);
        assert!(matches!(e, ScopeError::InvalidValue { kind: "token", .. }));
        assert!(!e.to_string().contains("c2Vj"));
        assert!(e.to_string().contains("never the secret"));
        assert!(serde_json::from_str::<Scope>("\"user:\"").is_err());
    }
}
