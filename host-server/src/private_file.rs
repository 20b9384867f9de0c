//! Files and directories the server creates in its data directory: the
//! database, its lock files, secrets and keys. Files are readable by their
//! owner only (0600), directories it creates 0700.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::path::Path;

/// Options that create a file with mode 0600 (the caller picks the access).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Narrows an existing file that others may read or write to 0600; a
/// missing file is fine.
///
/// # Errors
/// When its mode cannot be changed.
pub fn restrict(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to a new file (0600) and flushes it to disk.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Creates `dir` and its missing parents, new ones with mode 0700.
///
/// # Errors
/// When it cannot be created.
pub fn create_dir(dir: &Path) -> Result<(), String> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}
