//! Namespaces left behind by a program killed before it dropped its lab.

use crate::ip::ip;

/// Every namespace a lab makes is named `cvn-<pid>-<lab>-<host>`, after the
/// process that made it.
pub const PREFIX: &str = "cvn-";

/// Deletes every lab namespace whose process no longer runs (deleting a
/// namespace deletes its links; a veth pair goes with either end). Returns
/// how many it deleted. Namespaces of running processes (another test,
/// another `convene chaos`) are left alone.
pub fn remove_leftovers() -> usize {
    let Ok(list) = ip(&["netns", "list"]) else {
        return 0;
    };
    let mut removed = 0;
    for line in list.lines() {
        // `name` or `name (id: 3)`.
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = owner(name) else { continue };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if ip(&["netns", "del", name]).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The process id in a lab namespace's name.
fn owner(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn the_owner_is_read_from_the_name_and_other_namespaces_are_ignored() {
        assert_eq!(owner("cvn-4242-0-h1"), Some(4242));
        assert_eq!(owner("cvn-4242-0-br"), Some(4242));
        assert_eq!(owner("cvn-x-0-br"), None);
        assert_eq!(owner("docker-1"), None);
    }
}
