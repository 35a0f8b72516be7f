//! Helpers shared by the CLI's integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The SQLite cache made by `scripts/fetch-sqlite.sh` (run once per test
/// binary; the script is idempotent and locks the cache).
pub fn sqlite_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-sqlite.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .expect("run scripts/fetch-sqlite.sh");
        assert!(
            out.status.success(),
            "fetch-sqlite.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).expect("UTF-8 path").trim())
    })
}
