//! reinit (placeholder).
