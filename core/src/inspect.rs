//! Auto-detecting inspection of whatever a person pasted (placeholder until written).
