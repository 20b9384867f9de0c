//! Device profiles on SQLite (`devices.profile`).

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::profiles::ProfileStore;

impl ProfileStore for SqliteStore {
    fn set_profile(&self, device: &str, profile: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (device, profile) = (device.to_owned(), profile.to_owned());
        self.admin(move |c, _| {
            Ok(c.execute(
                "UPDATE devices SET profile = ?2 WHERE device_id = ?1",
                [&device, &profile],
            )? == 1)
        })
    }

    fn device_profiles(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, StoreError>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT device_id, profile FROM devices WHERE profile IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
