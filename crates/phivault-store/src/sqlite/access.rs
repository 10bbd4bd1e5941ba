//! [`AccessStore`] on SQLite: reads on the reader pool, writes through the
//! group-commit writer.

use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::writer::Job;
use crate::{AccessStore, BreakGlassRow, ErrorKind, StoreError, TokenKind, TokenRow, UserRow};

fn roles_json(roles: &[String]) -> String {
    serde_json::Value::from(roles.to_vec()).to_string()
}

fn parse_roles(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::new(ErrorKind::Corrupt, "user roles column is malformed"))
}

impl SqliteStore {
    async fn exec<F>(&self, f: F) -> Result<bool, StoreError>
    where
        F: FnOnce(&Connection) -> Result<bool, StoreError> + Send + 'static,
    {
        self.writer.submit(Job::Exec(Box::new(f))).await
    }
}

#[async_trait::async_trait]
impl AccessStore for SqliteStore {
    async fn put_role(&self, name: &str, spec: &str, at: i64) -> Result<(), StoreError> {
        let (name, spec) = (name.to_owned(), spec.to_owned());
        self.exec(move |c| {
            c.prepare_cached(
                "INSERT INTO roles (name, spec, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
            )?
            .execute(params![name, spec, at])?;
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    async fn list_roles(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT name, spec FROM roles ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn insert_user(&self, u: UserRow) -> Result<(), StoreError> {
        self.exec(move |c| {
            c.prepare_cached(
                "INSERT INTO users (id, display_name, roles, disabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![u.id, u.display_name, roles_json(&u.roles), u.disabled, u.created_at])?;
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    async fn get_user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT id, display_name, roles, disabled, created_at FROM users WHERE id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()?;
            row.map(|(id, display_name, roles, disabled, created_at)| {
                Ok(UserRow {
                    id,
                    display_name,
                    roles: parse_roles(&roles)?,
                    disabled,
                    created_at,
                })
            })
            .transpose()
        })
        .await
    }

    async fn update_user(
        &self,
        id: &str,
        roles: Option<Vec<String>>,
        disabled: Option<bool>,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.exec(move |c| {
            let exists = c
                .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
                .query_row(params![id], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                return Ok(false);
            }
            if let Some(roles) = roles {
                c.prepare_cached("UPDATE users SET roles = ?1 WHERE id = ?2")?
                    .execute(params![roles_json(&roles), id])?;
            }
            if let Some(d) = disabled {
                c.prepare_cached("UPDATE users SET disabled = ?1 WHERE id = ?2")?
                    .execute(params![d, id])?;
                if d {
                    c.prepare_cached("UPDATE tokens SET disabled = 1 WHERE principal = ?1")?
                        .execute(params![id])?;
                }
            }
            Ok(true)
        })
        .await
    }

    async fn token_and_user(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, Option<UserRow>)>, StoreError> {
        let id = token_id.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT t.id, t.hash, t.principal, t.admin, t.created_at, t.disabled, t.kind, t.expires_at,
                            t.last_used_at, u.id, u.display_name, u.roles, u.disabled, u.created_at
                     FROM tokens t LEFT JOIN users u ON u.id = t.principal WHERE t.id = ?1",
                )?
                .query_row(params![id], |r| {
                    let token = TokenRow {
                        id: r.get(0)?,
                        hash: r.get(1)?,
                        principal: r.get(2)?,
                        admin: r.get(3)?,
                        created_at: r.get(4)?,
                        disabled: r.get(5)?,
                        kind: TokenKind::Api,
                        expires_at: r.get(7)?,
                        last_used_at: r.get(8)?,
                    };
                    let user: Option<(String, String, String, bool, i64)> =
                        match r.get::<_, Option<String>>(9)? {
                            Some(uid) => Some((uid, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?)),
                            None => None,
                        };
                    Ok((token, r.get::<_, String>(6)?, user))
                })
                .optional()?;
            let Some((mut token, kind, user)) = row else {
                return Ok(None);
            };
            token.kind = TokenKind::parse(&kind)?;
            let user = user
                .map(|(id, display_name, roles, disabled, created_at)| {
                    Ok::<_, StoreError>(UserRow {
                        id,
                        display_name,
                        roles: parse_roles(&roles)?,
                        disabled,
                        created_at,
                    })
                })
                .transpose()?;
            Ok(Some((token, user)))
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, display_name, roles, disabled, created_at FROM users ORDER BY id",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            rows.map(|row| {
                let (id, display_name, roles, disabled, created_at) = row?;
                Ok(UserRow {
                    id,
                    display_name,
                    roles: parse_roles(&roles)?,
                    disabled,
                    created_at,
                })
            })
            .collect()
        })
        .await
    }

    async fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.exec(move |c| {
            c.prepare_cached("UPDATE tokens SET last_used_at = ?1 WHERE id = ?2")?
                .execute(params![at, id])?;
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    async fn disable_token(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.exec(move |c| {
            let n = c
                .prepare_cached("UPDATE tokens SET disabled = 1 WHERE id = ?1")?
                .execute(params![id])?;
            Ok(n > 0)
        })
        .await
    }

    async fn set_care_team(&self, patient_id: &str, users: Vec<String>) -> Result<(), StoreError> {
        let patient = patient_id.to_owned();
        self.exec(move |c| {
            c.prepare_cached("DELETE FROM care_team WHERE patient_id = ?1")?
                .execute(params![patient])?;
            let mut st = c.prepare_cached(
                "INSERT OR IGNORE INTO care_team (patient_id, user_id) VALUES (?1, ?2)",
            )?;
            for u in &users {
                st.execute(params![patient, u])?;
            }
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    async fn on_care_team(&self, patient_id: &str, user: &str) -> Result<bool, StoreError> {
        let (p, u) = (patient_id.to_owned(), user.to_owned());
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT 1 FROM care_team WHERE patient_id = ?1 AND user_id = ?2")?
                    .query_row(params![p, u], |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
        .await
    }

    async fn on_care_teams(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, StoreError> {
        self.read(move |c| {
            let mut st =
                c.prepare_cached("SELECT 1 FROM care_team WHERE patient_id = ?1 AND user_id = ?2")?;
            let mut out = Vec::with_capacity(pairs.len());
            for (p, u) in &pairs {
                out.push(
                    st.query_row(params![p, u], |_| Ok(()))
                        .optional()?
                        .is_some(),
                );
            }
            Ok(out)
        })
        .await
    }

    async fn insert_break_glass(&self, g: BreakGlassRow) -> Result<(), StoreError> {
        self.exec(move |c| {
            c.prepare_cached(
                "INSERT INTO break_glass (id, user_id, patient_id, reason, granted_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                g.id,
                g.user_id,
                g.patient_id,
                g.reason,
                g.granted_at,
                g.expires_at
            ])?;
            Ok(true)
        })
        .await
        .map(|_| ())
    }

    async fn break_glass_active(
        &self,
        user: &str,
        patient_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (u, p) = (user.to_owned(), patient_id.to_owned());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM break_glass WHERE user_id = ?1 AND patient_id = ?2 AND expires_at > ?3 LIMIT 1",
            )?
            .query_row(params![u, p, now], |_| Ok(()))
            .optional()?
            .is_some())
        })
        .await
    }
}
