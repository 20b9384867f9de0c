//! Device profiles on PostgreSQL (`devices.profile`).

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use super::PgStore;
use crate::store::StoreError;
use crate::store::profiles::ProfileStore;

impl ProfileStore for PgStore {
    fn set_profile(&self, device: &str, profile: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (device, profile) = (device.to_owned(), profile.to_owned());
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let changed = client
                .execute(
                    "UPDATE devices SET profile = $2 WHERE device_id = $1",
                    &[&device, &profile],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn device_profiles(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, StoreError>> {
        self.run(|pool| async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT device_id, profile FROM devices WHERE profile IS NOT NULL",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }
}
