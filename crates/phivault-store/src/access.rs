//! Persistence for access control: users, roles, session bookkeeping, care
//! teams and break-glass grants. Part of every [`crate::Store`].

use crate::{BreakGlassRow, StoreError, TokenRow, UserRow};

/// Users, roles, care teams, break-glass grants and token state.
#[async_trait::async_trait]
pub trait AccessStore: Send + Sync {
    /// Creates or replaces a role (its JSON definition, already validated).
    async fn put_role(&self, name: &str, spec: &str, at: i64) -> Result<(), StoreError>;

    /// Every role as `(name, JSON definition)`, by name.
    async fn list_roles(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Creates a user; `ErrorKind::Conflict` if the id is taken.
    async fn insert_user(&self, user: UserRow) -> Result<(), StoreError>;

    /// A user by id.
    async fn get_user(&self, id: &str) -> Result<Option<UserRow>, StoreError>;

    /// Changes a user's roles and/or disabled flag; disabling also disables
    /// every token and session of the user, in the same transaction. False
    /// if no such user.
    async fn update_user(
        &self,
        id: &str,
        roles: Option<Vec<String>>,
        disabled: Option<bool>,
    ) -> Result<bool, StoreError>;

    /// A token and the user it belongs to, in one read (the per-request
    /// authentication lookup).
    async fn token_and_user(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, Option<UserRow>)>, StoreError>;

    /// Every user, by id.
    async fn list_users(&self) -> Result<Vec<UserRow>, StoreError>;

    /// Records the use of a session token (idle timeout).
    async fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError>;

    /// Disables one token; false if no such token.
    async fn disable_token(&self, id: &str) -> Result<bool, StoreError>;

    /// Replaces a patient's care team.
    async fn set_care_team(&self, patient_id: &str, users: Vec<String>) -> Result<(), StoreError>;

    /// Is `user` on the care team of `patient_id`?
    async fn on_care_team(&self, patient_id: &str, user: &str) -> Result<bool, StoreError>;

    /// [`Self::on_care_team`] for many `(patient_id, user)` pairs in one
    /// round trip (the breach detector's batches); answers in pair order.
    async fn on_care_teams(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, StoreError>;

    /// Stores a break-glass grant.
    async fn insert_break_glass(&self, grant: BreakGlassRow) -> Result<(), StoreError>;

    /// Does `user` hold a grant for `patient_id` that lapses after `now`?
    async fn break_glass_active(
        &self,
        user: &str,
        patient_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
}
