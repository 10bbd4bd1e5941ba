//! Per-KID sliding replay window over frame counters, in the manner of RFC 4303 §3.4.3 /
//! RFC 6479 (RFC 9605 §9.3 leaves replay protection to the application).
//!
//! Checked before decryption, updated only after the frame authenticated, so forged frames cannot
//! move the window.

/// How many counters behind the highest one seen are still accepted once.
pub const REPLAY_WINDOW: u64 = 128;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReplayWindow {
    /// Highest counter accepted so far.
    top: Option<u64>,
    /// Bit `i` set: counter `top - i` was accepted.
    seen: u128,
}

/// Why [`ReplayWindow::check`] refused a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Replayed,
    TooOld,
}

impl ReplayWindow {
    pub(crate) fn check(&self, ctr: u64) -> Result<(), Refusal> {
        let Some(top) = self.top else { return Ok(()) };
        if ctr > top {
            return Ok(());
        }
        let behind = top - ctr;
        if behind >= REPLAY_WINDOW {
            return Err(Refusal::TooOld);
        }
        if self.seen >> behind & 1 == 1 {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }

    /// Records `ctr`; call only after [`Self::check`] passed and the frame authenticated.
    pub(crate) fn commit(&mut self, ctr: u64) {
        match self.top {
            Some(top) if ctr <= top => {
                self.seen |= 1u128
                    .checked_shl(u32::try_from(top - ctr).unwrap_or(u32::MAX))
                    .unwrap_or(0);
            }
            Some(top) => {
                let shift = u32::try_from(ctr - top).unwrap_or(u32::MAX);
                self.seen = self.seen.checked_shl(shift).unwrap_or(0) | 1;
                self.top = Some(ctr);
            }
            None => {
                self.seen = 1;
                self.top = Some(ctr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{REPLAY_WINDOW, Refusal, ReplayWindow};

    fn accept(w: &mut ReplayWindow, ctr: u64) -> Result<(), Refusal> {
        w.check(ctr)?;
        w.commit(ctr);
        Ok(())
    }

    #[test]
    fn window_edges() {
        let mut w = ReplayWindow::default();
        assert_eq!(accept(&mut w, 5), Ok(()));
        assert_eq!(accept(&mut w, 5), Err(Refusal::Replayed));
        assert_eq!(accept(&mut w, 0), Ok(()));
        assert_eq!(accept(&mut w, u64::MAX), Ok(()));
        assert_eq!(accept(&mut w, 5), Err(Refusal::TooOld));
        assert_eq!(
            accept(&mut w, u64::MAX - REPLAY_WINDOW),
            Err(Refusal::TooOld)
        );
        assert_eq!(accept(&mut w, u64::MAX - (REPLAY_WINDOW - 1)), Ok(()));
        assert_eq!(
            accept(&mut w, u64::MAX - (REPLAY_WINDOW - 1)),
            Err(Refusal::Replayed)
        );
        assert_eq!(accept(&mut w, u64::MAX), Err(Refusal::Replayed));
    }

    #[test]
    fn check_without_commit_does_not_move_the_window() {
        let mut w = ReplayWindow::default();
        w.commit(10);
        assert_eq!(w.check(1_000), Ok(()));
        // Not committed (the frame failed to authenticate): 10 - 1 is still inside the window.
        assert_eq!(accept(&mut w, 9), Ok(()));
    }
}
