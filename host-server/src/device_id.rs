//! Device ids as they may appear in paths, logs and the database.

/// The longest device id accepted.
pub const MAX_LEN: usize = 64;

/// Checks a device id: 1–64 characters of `A–Z a–z 0–9 _ . : -`.
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
    Ok(())
}

/// The JSON Schema of a device id, as [`check`] reads it (API document).
pub fn schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(format!("^[A-Za-z0-9_.:-]{{1,{MAX_LEN}}}$")))
        .description(Some(format!(
            "A device id: 1 to {MAX_LEN} characters of `A-Z a-z 0-9 _ . : -`"
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
    }
}
