//! Device ids as they may appear in paths, logs and the database.

/// The longest device id accepted.
pub const MAX_LEN: usize = 64;

/// Checks a device id: 1–64 characters of `A–Z a–z 0–9 _ . : -`, and not
/// `.` or `..` (URL dot-segments: clients and proxies rewrite them, so such
/// a device could not be addressed in a path).
///
/// # Errors
/// A message saying what is wrong.
pub fn check(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    if id.is_empty() || id.len() > MAX_LEN || !id.chars().all(allowed) {
        return Err(format!(
            "a device id is 1 to {MAX_LEN} characters of A-Z a-z 0-9 _ . : -"
        ));
    }
    if id == "." || id == ".." {
        return Err("a device id may not be `.` or `..`".to_owned());
    }
    Ok(())
}

/// The JSON Schema of a device id, as [`check`] reads it (API document).
pub fn schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(format!(
            "^(?!\\.{{1,2}}$)[A-Za-z0-9_.:-]{{1,{MAX_LEN}}}$"
        )))
        .description(Some(format!(
            "A device id: 1 to {MAX_LEN} characters of `A-Z a-z 0-9 _ . : -`, not `.` or `..`"
        )))
        .examples(["ESP32_001"])
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_checked() {
        assert!(super::check("ESP32_001").is_ok());
        assert!(super::check("a.b:c-d_e").is_ok());
        assert!(super::check("").is_err());
        assert!(super::check("a/b").is_err());
        assert!(super::check("café").is_err());
        assert!(super::check(&"x".repeat(65)).is_err());
        assert!(super::check(".").is_err() && super::check("..").is_err());
        assert!(super::check("...").is_ok() && super::check(".a").is_ok());
    }
}
