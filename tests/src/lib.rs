//! Shared helpers for the integration tests in `tests/tests/`: locating the
//! repository's data, the statistics used by sampler tests, and the bodies of
//! the tokenizer's fuzz targets.

pub mod fuzz;
pub mod stats;

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// `../shared` beside the workspace, if this checkout has it (CI and the
/// developers' machine do; a fresh clone elsewhere may not). Tests that need it
/// must also have a self-contained fallback committed in the repository.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = workspace_root().parent()?.join("shared");
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("core").is_dir());
    }
}
