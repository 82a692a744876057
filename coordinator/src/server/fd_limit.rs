//! Fitting the connection cap to the process's open-file limit, so that
//! accepting never fails with "Too many open files" (which also starves
//! the store and the static files of descriptors).
//!
//! At start the soft `RLIMIT_NOFILE` is raised as far as the hard limit
//! allows; then the cap is lowered, if need be, to leave
//! [`RESERVED_FDS`] descriptors for everything else. Both steps are
//! logged.

/// Descriptors kept for the listener, the store, static files, refused
/// connections being answered, and the runtime.
pub const RESERVED_FDS: u64 = 128;

/// The connection cap that fits the open-file limit: `wanted`, or less
/// when the limit (raised first, if the hard limit allows) is too low.
pub fn fit_connections(wanted: usize) -> usize {
    let limit = match raise_soft_limit() {
        Some(limit) => limit,
        None => return wanted.max(1),
    };
    let fits = limit.saturating_sub(RESERVED_FDS).max(1);
    let cap = (wanted as u64).min(fits).max(1) as usize;
    if cap < wanted {
        tracing::warn!(
            wanted,
            cap,
            open_file_limit = limit,
            "connection cap lowered to fit the open-file limit (raise the hard limit, ulimit -Hn, for more)"
        );
    }
    cap
}

/// Raises the soft open-file limit to the hard one; the soft limit in force
/// afterwards, `None` where there is no such limit.
#[cfg(unix)]
fn raise_soft_limit() -> Option<u64> {
    use rlimit::Resource;
    let (soft, hard) = match Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit");
            return None;
        }
    };
    if soft >= hard {
        return Some(soft);
    }
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => {
            tracing::info!(from = soft, to = raised, "raised the open-file limit");
            Some(raised)
        }
        Err(error) => {
            tracing::warn!(%error, soft, hard, "cannot raise the open-file limit");
            Some(soft)
        }
    }
}

#[cfg(not(unix))]
fn raise_soft_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_other_descriptors() {
        let cap = fit_connections(usize::MAX);
        let (soft, _) = rlimit::Resource::NOFILE
            .get()
            .unwrap_or((u64::MAX, u64::MAX));
        assert!(cap as u64 <= soft.saturating_sub(RESERVED_FDS).max(1));
        assert_eq!(fit_connections(1), 1);
    }
}
