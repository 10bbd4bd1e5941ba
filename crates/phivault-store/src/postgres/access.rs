//! [`AccessStore`] on PostgreSQL.

use super::PgStore;
use crate::{AccessStore, BreakGlassRow, ErrorKind, StoreError, TokenKind, TokenRow, UserRow};

fn roles_json(roles: &[String]) -> String {
    serde_json::Value::from(roles.to_vec()).to_string()
}

#[async_trait::async_trait]
impl AccessStore for PgStore {
    async fn put_role(&self, name: &str, spec: &str, at: i64) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO roles (name, spec, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
            &[&name, &spec, &at],
        )
        .await?;
        Ok(())
    }

    async fn list_roles(&self) -> Result<Vec<(String, String)>, StoreError> {
        let c = self.pool.get().await?;
        c.query("SELECT name, spec FROM roles ORDER BY name", &[])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn insert_user(&self, u: UserRow) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO users (id, display_name, roles, disabled, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&u.id, &u.display_name, &roles_json(&u.roles), &u.disabled, &u.created_at],
        )
        .await?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT id, display_name, roles, disabled, created_at FROM users WHERE id = $1",
            )
            .await?;
        let Some(r) = c.query_opt(&st, &[&id]).await? else {
            return Ok(None);
        };
        let roles: String = r.try_get(2)?;
        Ok(Some(UserRow {
            id: r.try_get(0)?,
            display_name: r.try_get(1)?,
            roles: serde_json::from_str(&roles).map_err(|_| {
                StoreError::new(ErrorKind::Corrupt, "user roles column is malformed")
            })?,
            disabled: r.try_get(3)?,
            created_at: r.try_get(4)?,
        }))
    }

    async fn update_user(
        &self,
        id: &str,
        roles: Option<Vec<String>>,
        disabled: Option<bool>,
    ) -> Result<bool, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let exists = tx
            .query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&id])
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        if let Some(roles) = roles {
            tx.execute(
                "UPDATE users SET roles = $1 WHERE id = $2",
                &[&roles_json(&roles), &id],
            )
            .await?;
        }
        if let Some(d) = disabled {
            tx.execute("UPDATE users SET disabled = $1 WHERE id = $2", &[&d, &id])
                .await?;
            if d {
                tx.execute(
                    "UPDATE tokens SET disabled = true WHERE principal = $1",
                    &[&id],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn token_and_user(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenRow, Option<UserRow>)>, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT t.id, t.hash, t.principal, t.admin, t.created_at, t.disabled, t.kind, t.expires_at,
                        t.last_used_at, u.id, u.display_name, u.roles, u.disabled, u.created_at
                 FROM tokens t LEFT JOIN users u ON u.id = t.principal WHERE t.id = $1",
            )
            .await?;
        let Some(r) = c.query_opt(&st, &[&token_id]).await? else {
            return Ok(None);
        };
        let token = TokenRow {
            id: r.try_get(0)?,
            hash: r.try_get(1)?,
            principal: r.try_get(2)?,
            admin: r.try_get(3)?,
            created_at: r.try_get(4)?,
            disabled: r.try_get(5)?,
            kind: TokenKind::parse(r.try_get(6)?)?,
            expires_at: r.try_get(7)?,
            last_used_at: r.try_get(8)?,
        };
        let user = match r.try_get::<_, Option<String>>(9)? {
            None => None,
            Some(id) => {
                let roles: String = r.try_get(11)?;
                Some(UserRow {
                    id,
                    display_name: r.try_get(10)?,
                    roles: serde_json::from_str(&roles).map_err(|_| {
                        StoreError::new(ErrorKind::Corrupt, "user roles column is malformed")
                    })?,
                    disabled: r.try_get(12)?,
                    created_at: r.try_get(13)?,
                })
            }
        };
        Ok(Some((token, user)))
    }

    async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let c = self.pool.get().await?;
        c.query(
            "SELECT id, display_name, roles, disabled, created_at FROM users ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            let roles: String = r.try_get(2)?;
            Ok(UserRow {
                id: r.try_get(0)?,
                display_name: r.try_get(1)?,
                roles: serde_json::from_str(&roles).map_err(|_| {
                    StoreError::new(ErrorKind::Corrupt, "user roles column is malformed")
                })?,
                disabled: r.try_get(3)?,
                created_at: r.try_get(4)?,
            })
        })
        .collect()
    }

    async fn touch_token(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "UPDATE tokens SET last_used_at = $1 WHERE id = $2",
            &[&at, &id],
        )
        .await?;
        Ok(())
    }

    async fn disable_token(&self, id: &str) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        Ok(
            c.execute("UPDATE tokens SET disabled = true WHERE id = $1", &[&id])
                .await?
                > 0,
        )
    }

    async fn set_care_team(&self, patient_id: &str, users: Vec<String>) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "DELETE FROM care_team WHERE patient_id = $1",
            &[&patient_id],
        )
        .await?;
        tx.execute(
            "INSERT INTO care_team (patient_id, user_id) SELECT $1, u FROM unnest($2::text[]) AS u
             ON CONFLICT DO NOTHING",
            &[&patient_id, &users],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn on_care_team(&self, patient_id: &str, user: &str) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached("SELECT 1 FROM care_team WHERE patient_id = $1 AND user_id = $2")
            .await?;
        Ok(c.query_opt(&st, &[&patient_id, &user]).await?.is_some())
    }

    async fn on_care_teams(&self, pairs: Vec<(String, String)>) -> Result<Vec<bool>, StoreError> {
        let (patients, users): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM care_team t WHERE t.patient_id = q.p AND t.user_id = q.u)
                 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(p, u, n) ORDER BY q.n",
            )
            .await?;
        let rows = c.query(&st, &[&patients, &users]).await?;
        rows.iter()
            .map(|r| r.try_get::<_, bool>(0).map_err(StoreError::from))
            .collect()
    }

    async fn insert_break_glass(&self, g: BreakGlassRow) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO break_glass (id, user_id, patient_id, reason, granted_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &g.id,
                &g.user_id,
                &g.patient_id,
                &g.reason,
                &g.granted_at,
                &g.expires_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn break_glass_active(
        &self,
        user: &str,
        patient_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let st = c
            .prepare_cached(
                "SELECT 1 FROM break_glass WHERE user_id = $1 AND patient_id = $2 AND expires_at > $3 LIMIT 1",
            )
            .await?;
        Ok(c.query_opt(&st, &[&user, &patient_id, &now])
            .await?
            .is_some())
    }
}
