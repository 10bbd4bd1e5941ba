//! Process hardening applied before any key is loaded: no core dumps, so a
//! crash cannot write KEKs, DEKs or PHI held in memory to disk.

/// Sets `RLIMIT_CORE` to 0 (soft and hard, so it cannot be raised again)
/// and, on Linux, marks the process not dumpable (no core file, no ptrace
/// attach by other processes of the same user).
pub fn disable_core_dumps() -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| format!("cannot disable core dumps (RLIMIT_CORE): {e}"))?;
    #[cfg(target_os = "linux")]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("cannot mark the process not dumpable: {e}"))?;
    Ok(())
}
