//! The kinds of identifier the detectors report.

use std::fmt;

/// One Safe Harbor identifier family (45 CFR 164.514(b)(2)(i)) that the
/// detectors can find by pattern, checksum, word list or known value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// Social security number, never-issued areas, groups and serials excluded.
    Ssn,
    /// Telephone or fax number (NANP formats, or `+` international).
    Phone,
    /// Email address.
    Email,
    /// Web URL with a scheme, or starting with `www.`.
    Url,
    /// IPv4 address (loopback and unspecified excluded).
    Ipv4,
    /// IPv6 address (loopback and unspecified excluded).
    Ipv6,
    /// A calendar date that is not a log event timestamp.
    Date,
    /// ZIP code, when preceded by a state abbreviation or a `zip` keyword.
    Zip,
    /// Medical record number, from a configured pattern.
    Mrn,
    /// Account or health plan number, from a configured pattern.
    Account,
    /// Certificate or licence number, from a configured pattern.
    Licence,
    /// Device identifier or serial number, from a configured pattern.
    Device,
    /// Payment card number (issuer prefix and Luhn checked).
    Card,
    /// Vehicle identification number (check digit verified).
    Vin,
    /// A person name: a first name followed by a last name from the lists.
    Name,
    /// An exact value from the known-values file.
    Known,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 16] = [
        Kind::Ssn,
        Kind::Phone,
        Kind::Email,
        Kind::Url,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Date,
        Kind::Zip,
        Kind::Mrn,
        Kind::Account,
        Kind::Licence,
        Kind::Device,
        Kind::Card,
        Kind::Vin,
        Kind::Name,
        Kind::Known,
    ];

    /// The stable lowercase name used in reports, baselines and redactions.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ssn => "ssn",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Url => "url",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Date => "date",
            Kind::Zip => "zip",
            Kind::Mrn => "mrn",
            Kind::Account => "account",
            Kind::Licence => "licence",
            Kind::Device => "device",
            Kind::Card => "card",
            Kind::Vin => "vin",
            Kind::Name => "name",
            Kind::Known => "known",
        }
    }

    /// Parses [`Kind::as_str`] output.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of kinds, to switch detectors on and off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindSet(u32);

impl KindSet {
    /// Every kind.
    pub const fn all() -> Self {
        KindSet(u32::MAX)
    }

    /// No kind.
    pub const fn none() -> Self {
        KindSet(0)
    }

    /// This set plus `k`.
    #[must_use]
    pub fn with(self, k: Kind) -> Self {
        KindSet(self.0 | k.bit())
    }

    /// This set without `k`.
    #[must_use]
    pub fn without(self, k: Kind) -> Self {
        KindSet(self.0 & !k.bit())
    }

    /// True when `k` is in the set.
    pub fn contains(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }
}

impl Default for KindSet {
    fn default() -> Self {
        Self::all()
    }
}
