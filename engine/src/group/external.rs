//! external (placeholder).
/// Options for an external commit.
#[derive(Clone, Debug, Default)]
pub struct ExternalCommitOptions {}
