//! The cooperative budget: a task that always finds its socket ready must still yield.
//!
//! A read that always finds data never returns `Pending`, so without a budget a task serving a
//! peer that floods it runs until the socket drains, which a fast peer never lets happen: the
//! loop never polls for I/O again and every other connection starves. As in tokio, each task
//! gets a budget of socket operations every time it is polled; once it is spent, the next
//! operation wakes the task and returns `Pending` before touching the socket (so nothing is
//! consumed), and the task goes to the back of the run queue, behind the loop's next I/O poll.
//!
//! Outside a task run by a loop (a future polled by hand) the budget is unconstrained.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Socket operations a task may complete per poll before it is made to yield (tokio's figure).
pub(crate) const BUDGET: u32 = 128;
/// No budget in force: so many operations that code polled outside a loop's tasks never runs
/// out (and if it did, it would only be woken at once).
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    static REMAINING: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Gives the task about to be polled a fresh budget.
#[inline]
pub(crate) fn reset() {
    REMAINING.set(BUDGET);
}

/// No task is being polled any more: lifts the budget.
#[inline]
pub(crate) fn lift() {
    REMAINING.set(UNCONSTRAINED);
}

/// Charges one operation to the running task's budget; once it is spent, wakes the task and
/// returns `Pending` (the operation must then return `Pending` without doing anything).
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let left = REMAINING.get();
    if left == 0 {
        return spent(cx);
    }
    REMAINING.set(left - 1);
    Poll::Ready(())
}

#[cold]
#[inline(never)]
fn spent(cx: &mut Context<'_>) -> Poll<()> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_task_yields_once_its_budget_is_spent_and_unconstrained_code_never_does() {
        let mut cx = Context::from_waker(Waker::noop());
        lift();
        for _ in 0..1000 {
            assert!(poll_proceed(&mut cx).is_ready());
        }
        reset();
        for _ in 0..BUDGET {
            assert!(poll_proceed(&mut cx).is_ready());
        }
        assert!(poll_proceed(&mut cx).is_pending());
        reset();
        assert!(poll_proceed(&mut cx).is_ready());
        lift();
    }
}
