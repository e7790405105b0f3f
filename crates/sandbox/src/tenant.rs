//! Who user code runs as, and what it is told: the uid of a workspace's user code and the
//! environment of a datum, built from an allow-list.

use std::path::{Path, PathBuf};

use crate::Isolation;

/// The first uid (and gid) given to user code. Workspaces get uids in
/// `FIRST_TENANT_UID .. FIRST_TENANT_UID + TENANT_UIDS` (`0x6000_0000 ..= 0x6fff_ffff`,
/// 1 610 612 736 ..= 1 879 048 191): far above the ids a distribution hands out to people
/// and system services (below 65 536) and the subordinate ranges container runtimes
/// usually take (from 100 000), and below 2^31 so that no tool reads it as negative.
pub const FIRST_TENANT_UID: u32 = 0x6000_0000;

/// How many uids the workspaces share (2^28). Two workspaces land on one uid with a
/// probability of about n²/2^29 for n workspaces on one machine; even then their datums
/// see only their own files (each datum's root is private), and only a process of
/// the same uid could signal or trace the other's commands.
pub const TENANT_UIDS: u32 = 1 << 28;

/// Where user code's home directory is in namespace mode: private to the helper, owned by
/// the workspace's uid, on the namespace's own root.
pub(crate) const NAMESPACE_HOME: &str = "/home/strata";

/// The home directory of user code in a container: its private, writable `/tmp`.
const CONTAINER_HOME: &str = "/tmp";

/// `PATH` for user code: the system directories of its root, nothing of the worker's.
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// `LANG` when the worker has none.
const DEFAULT_LANG: &str = "C.UTF-8";

/// The uid (and gid) the user code of a workspace runs as: derived from the workspace's
/// stable identity (its id, or its slug where that is all a worker knows), the same on
/// every machine and every start.
pub fn tenant_uid(workspace: &str) -> u32 {
    FIRST_TENANT_UID + (fnv1a(workspace.as_bytes()) % u64::from(TENANT_UIDS)) as u32
}

/// FNV-1a, 64 bits: written out because the uid must never change with a Rust release,
/// which `std`'s hashers do not promise. Not a defence against chosen collisions; a
/// collision only makes two workspaces share a uid (see [`TENANT_UIDS`]).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// What user code runs as and where its worker keeps datums. Built once per sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// The uid and gid of user code (see [`tenant_uid`]).
    pub uid: u32,
    /// The directory every datum root and log of this sandbox lies under (the worker's own
    /// scratch directory). In namespace mode it is reachable only by the helper, under a
    /// root-only directory: user code sees nothing of it but its datum's `/pfs`.
    pub work_dir: PathBuf,
}

impl Confinement {
    /// User code of `workspace` (its id or slug), with datums under `work_dir`.
    pub fn for_workspace(workspace: &str, work_dir: impl Into<PathBuf>) -> Self {
        Confinement { uid: tenant_uid(workspace), work_dir: work_dir.into() }
    }
}

/// The whole environment of a datum's command: `PATH`, `HOME` and `LANG`, then the
/// caller's variables (which win, so `transform.env` may set `PATH`), then `PFS`. Nothing
/// of the worker's own environment is passed on: the worker holds its server's
/// credential there.
pub(crate) fn datum_env(
    isolation: Isolation,
    root: &Path,
    worker_lang: Option<String>,
    vars: &[(String, String)],
    pfs: &Path,
) -> Vec<(String, String)> {
    let home = match isolation {
        Isolation::Namespace => PathBuf::from(NAMESPACE_HOME),
        // Nothing is private without a namespace; the datum's root is at least the
        // datum's own, and only its `out/` is uploaded.
        Isolation::Scratch => root.to_path_buf(),
        // The image's `PATH`, `LANG` and the rest hold (the helper puts the image's
        // environment under these variables); the root file system is read-only, so the
        // home is the container's private `/tmp`.
        Isolation::Container => {
            let mut env = vec![("HOME".to_owned(), CONTAINER_HOME.to_owned())];
            env.extend(vars.iter().cloned());
            env.push(("PFS".to_owned(), pfs.to_string_lossy().into_owned()));
            return env;
        }
    };
    let lang = worker_lang.filter(|lang| !lang.is_empty()).unwrap_or_else(|| DEFAULT_LANG.to_owned());
    let mut env = vec![
        ("PATH".to_owned(), USER_PATH.to_owned()),
        ("HOME".to_owned(), home.to_string_lossy().into_owned()),
        ("LANG".to_owned(), lang),
    ];
    env.extend(vars.iter().cloned());
    env.push(("PFS".to_owned(), pfs.to_string_lossy().into_owned()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_always_gets_the_same_uid_in_the_documented_range() {
        let uid = tenant_uid("0b7c1f9e-2f8d-4c1e-9a51-6c1d2e3f4a5b");
        assert_eq!(uid, tenant_uid("0b7c1f9e-2f8d-4c1e-9a51-6c1d2e3f4a5b"));
        // Pinned: a uid that changed between releases would strand files owned by the old one.
        assert_eq!(tenant_uid("default"), 1_713_423_870);
        for workspace in ["", "default", "tenant-a/wsa", "tenant-b/wsa", &"x".repeat(10_000)] {
            let uid = tenant_uid(workspace);
            assert!((FIRST_TENANT_UID..FIRST_TENANT_UID + TENANT_UIDS).contains(&uid), "{workspace}: {uid}");
            assert!(i32::try_from(uid).is_ok(), "{uid} must not look negative");
        }
    }

    #[test]
    fn different_workspaces_get_different_uids() {
        let uids: std::collections::HashSet<u32> = (0..1000).map(|n| tenant_uid(&format!("ws-{n}"))).collect();
        assert_eq!(uids.len(), 1000);
        assert_ne!(tenant_uid("tenant-a/wsa"), tenant_uid("tenant-b/wsa"));
    }

    #[test]
    fn the_datum_environment_is_the_allow_list_and_the_callers_variables_only() {
        let vars = vec![("STRATA_JOB_ID".to_owned(), "j1".to_owned()), ("in".to_owned(), "/pfs/in/a".to_owned())];
        let env = datum_env(Isolation::Namespace, Path::new("/scratch/d0"), None, &vars, Path::new("/pfs"));
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "LANG", "STRATA_JOB_ID", "in", "PFS"]);
        let get = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("HOME"), Some(NAMESPACE_HOME));
        assert_eq!(get("PATH"), Some(USER_PATH));
        assert_eq!(get("LANG"), Some(DEFAULT_LANG));
        assert_eq!(get("PFS"), Some("/pfs"));
    }

    #[test]
    fn the_workers_lang_is_passed_on_and_transform_variables_win() {
        let vars = vec![("PATH".to_owned(), "/opt/tool/bin:/usr/bin".to_owned())];
        let root = Path::new("/scratch/d0");
        let env = datum_env(Isolation::Scratch, root, Some("de_DE.UTF-8".into()), &vars, root);
        let last = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(last("LANG"), Some("de_DE.UTF-8"));
        // Later entries override earlier ones when the command is built.
        assert_eq!(last("PATH"), Some("/opt/tool/bin:/usr/bin"));
        assert_eq!(last("HOME"), Some("/scratch/d0"));
        assert_eq!(last("PFS"), Some("/scratch/d0"));
    }
}
