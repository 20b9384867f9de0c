//! Which register profile each device's uploads are read with: a device's
//! kind (`bess-rack-1`, `pcs-1`, `meter-3ph-1`, `string-inverter-1`), set
//! when it is added. A device without one uses the default `ecowatt-1.3`.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use super::StoreError;

/// Device profiles.
pub trait ProfileStore: Send + Sync {
    /// Sets the profile (a name of the core's catalog, checked by the
    /// caller) of a device; `false` for an unknown device.
    fn set_profile(&self, device: &str, profile: &str) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Every device with a profile set, by device id.
    fn device_profiles(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, StoreError>>;
}

/// Adds a device with its keys and, when given, its profile (checked
/// against the catalog first, so a bad name changes nothing); `Ok(false)`
/// when the id is taken.
///
/// # Errors
/// [`ProfileError::Unknown`] for a name the catalog does not know, else the store's.
pub async fn add_device(
    store: &dyn super::Store,
    device: &str,
    keys: super::DeviceKeys,
    profile: Option<&str>,
) -> Result<bool, ProfileError> {
    if let Some(name) = profile {
        crate::readings::profile_named(Some(name))
            .map_err(|_| ProfileError::Unknown(name.to_owned()))?;
    }
    if !store.add_device(device, keys).await? {
        return Ok(false);
    }
    if let Some(name) = profile {
        store.set_profile(device, name).await?;
    }
    Ok(true)
}

/// Why a device was not added with its profile.
#[derive(Debug)]
pub enum ProfileError {
    /// The catalog has no profile of that name.
    Unknown(String),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for ProfileError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(name) => {
                let known: Vec<&str> = crate::readings::profiles()
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                write!(
                    f,
                    "unknown register profile {name:?} (known: {})",
                    known.join(", ")
                )
            }
            Self::Store(e) => std::fmt::Display::fmt(e, f),
        }
    }
}
