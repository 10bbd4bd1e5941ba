//! Store errors: classified by kind, messages without data values.

use std::fmt;

/// What kind of failure, so callers classify without matching strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The row does not exist.
    NotFound,
    /// A concurrent change or a duplicate key.
    Conflict,
    /// The database cannot be reached or written.
    Unavailable,
    /// Stored data does not have the expected shape.
    Corrupt,
}

/// A storage failure. The message names the operation and the driver's error
/// code, never a stored or submitted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
}

impl StoreError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // Only the SQLite result code: extended messages can quote values.
        match e {
            rusqlite::Error::SqliteFailure(err, _) => {
                let kind = match err.code {
                    rusqlite::ErrorCode::ConstraintViolation => ErrorKind::Conflict,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                        ErrorKind::Corrupt
                    }
                    _ => ErrorKind::Unavailable,
                };
                Self::new(kind, format!("sqlite error {:?}", err.code))
            }
            rusqlite::Error::QueryReturnedNoRows => Self::new(ErrorKind::NotFound, "no such row"),
            _ => Self::new(ErrorKind::Unavailable, "sqlite driver error"),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // Only the SQLSTATE: detail and messages can quote values.
        match e.code() {
            Some(c) if c.code().starts_with("23") || c.code() == "40001" => {
                Self::new(ErrorKind::Conflict, format!("postgres error {}", c.code()))
            }
            Some(c) => Self::new(
                ErrorKind::Unavailable,
                format!("postgres error {}", c.code()),
            ),
            None => Self::new(ErrorKind::Unavailable, "postgres connection error"),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            _ => Self::new(ErrorKind::Unavailable, "postgres pool error"),
        }
    }
}
