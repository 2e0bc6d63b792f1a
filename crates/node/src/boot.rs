//! Boot numbers: one per run of a node, larger than every earlier run's.
//!
//! Peers drop a sealed datagram from an earlier run of its sender as a
//! replay (see `convene_rpc::auth`), so a node's boot number must grow
//! across restarts, even if its clock was set back meanwhile. It is the
//! larger of the wall clock in milliseconds and the previous run's number
//! plus one, which is kept in the node's data directory in a file of its
//! own (`boot`), written before the node says anything to its peers.

use std::path::Path;

use convene_cluster::number_file;

/// The file, in the node's data directory.
pub const BOOT_FILE: &str = "boot";

/// This run's boot number for the node whose data directory is `data_dir`,
/// recorded there (durably) before it is returned.
pub fn next_boot(data_dir: &Path, now_ms: u64) -> std::io::Result<u64> {
    let path = data_dir.join(BOOT_FILE);
    // A file that holds no number is a lost record: the clock still makes
    // the boot number grow.
    let previous = match number_file::read(&path) {
        Ok(previous) => previous,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => None,
        Err(e) => return Err(e),
    };
    let boot = previous.map_or(now_ms, |p| now_ms.max(p.saturating_add(1)));
    number_file::write(&path, boot)?;
    Ok(boot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_numbers_grow_even_when_the_clock_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_boot(dir.path(), 1_000).unwrap(), 1_000);
        assert_eq!(next_boot(dir.path(), 5_000).unwrap(), 5_000);
        assert_eq!(
            next_boot(dir.path(), 2_000).unwrap(),
            5_001,
            "clock set back"
        );
        assert_eq!(next_boot(dir.path(), 2_000).unwrap(), 5_002);
    }

    #[test]
    fn an_unreadable_number_starts_again_from_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(BOOT_FILE), "garbage").unwrap();
        assert_eq!(next_boot(dir.path(), 7).unwrap(), 7);
    }
}
