//! Finding vector files: the project's own and `$SOLARWIRE_EXTRA_VECTORS`.

use std::path::{Path, PathBuf};

/// The environment variable naming extra vector directories (`:`-separated).
pub const EXTRA_VECTORS_ENV: &str = "SOLARWIRE_EXTRA_VECTORS";

/// The project's vector directory.
pub fn project_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Every `*.json` file below the project's vectors and each extra directory,
/// sorted within each root.
///
/// # Errors
/// An extra directory that does not exist or cannot be read.
pub fn all_vector_files() -> std::io::Result<Vec<PathBuf>> {
    let mut roots = vec![project_vectors()];
    if let Ok(extra) = std::env::var(EXTRA_VECTORS_ENV) {
        roots.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    let mut out = Vec::new();
    for root in roots {
        let mut found = Vec::new();
        collect(&root, &mut found)?;
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
