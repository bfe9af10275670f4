//! state (placeholder).
