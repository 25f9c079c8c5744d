//! Watched changes gathered into fewer Directory transactions when they come fast.
//!
//! The proxy sends each of its commits as a batch followed by "caught up": at 1,000 changes a
//! second that is hundreds of batches, and each one its own transaction rewrote the same
//! digest and position pages and a 16 KiB page per change, so the Directory's log grew by
//! tens of megabytes a second and its checkpoints held the writer (the real-time p99 of
//! performance round five). Here a change that comes after a quiet moment is applied at once;
//! one that comes soon after the last transaction waits until `Pace::group_every` has passed
//! since it, and everything the proxy sends meanwhile shares its transaction.

use protocol::pb;
use tokio::time::Instant;

use crate::proxy::{ChangeStream, ProxyError, WatchItem};

/// The most changes one transaction takes (each batch is bounded in bytes by the proxy).
const GROUP_MOST: usize = 10_000;

/// What the watch delivered for one transaction.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Group {
    /// The changes, in the proxy's order.
    pub changes: Vec<pb::Change>,
    /// The proxy's latest revision when the last batch was read.
    pub proxy_revision: u64,
    /// The proxy said it had sent everything up to this revision after the last batch.
    pub caught_up: Option<u64>,
}

/// The next item of a watch, as the stream gave it.
pub(crate) type Next = Result<Option<WatchItem>, ProxyError>;

/// Starts a group with `changes` and adds what arrives until `until` (nothing when `None` or
/// past). An item that is neither changes nor "caught up" ends the group and is returned, to
/// be handled after the group is applied.
pub(crate) async fn gather<S: ChangeStream>(
    changes: Vec<pb::Change>,
    proxy_revision: u64,
    until: Option<Instant>,
    stream: &mut S,
) -> (Group, Option<Next>) {
    let mut group = Group {
        changes,
        proxy_revision,
        caught_up: None,
    };
    let Some(until) = until.filter(|until| *until > Instant::now()) else {
        return (group, None);
    };
    while group.changes.len() < GROUP_MOST {
        // The stream keeps its state between polls: an item is never lost to the timeout.
        let Ok(next) = tokio::time::timeout_at(until, stream.next()).await else {
            break;
        };
        match next {
            Ok(Some(WatchItem::Changes {
                changes,
                proxy_revision,
            })) => {
                group.changes.extend(changes);
                group.proxy_revision = group.proxy_revision.max(proxy_revision);
                group.caught_up = None;
            }
            Ok(Some(WatchItem::CaughtUp(revision))) => group.caught_up = Some(revision),
            other => return (group, Some(other)),
        }
    }
    (group, None)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use super::*;

    /// Items ready at once, in order; `None` is one that never comes.
    struct Queued(VecDeque<Option<Next>>);

    impl ChangeStream for Queued {
        async fn next(&mut self) -> Next {
            match self.0.pop_front() {
                Some(Some(item)) => item,
                _ => std::future::pending().await,
            }
        }
    }

    fn change(revision: u64) -> pb::Change {
        pb::Change {
            revision,
            ..Default::default()
        }
    }

    fn changes(revisions: &[u64], head: u64) -> Option<Next> {
        Some(Ok(Some(WatchItem::Changes {
            changes: revisions.iter().copied().map(change).collect(),
            proxy_revision: head,
        })))
    }

    fn caught_up(revision: u64) -> Option<Next> {
        Some(Ok(Some(WatchItem::CaughtUp(revision))))
    }

    fn revisions(group: &Group) -> Vec<u64> {
        group.changes.iter().map(|c| c.revision).collect()
    }

    fn queued(items: Vec<Option<Next>>) -> Queued {
        Queued(items.into())
    }

    /// A window long enough that items ready at once always fall within it.
    fn window() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(60))
    }

    #[tokio::test]
    async fn a_change_after_a_quiet_moment_is_applied_at_once() {
        let mut s = queued(vec![changes(&[2], 2)]);
        let past = Instant::now().checked_sub(Duration::from_millis(1));
        for until in [None, past] {
            let (group, next) = gather(vec![change(1)], 1, until, &mut s).await;
            assert_eq!(revisions(&group), [1]);
            assert_eq!(group.caught_up, None);
            assert!(next.is_none());
        }
        assert_eq!(s.0.len(), 1, "the next change was left for the next group");
    }

    #[tokio::test]
    async fn what_comes_within_the_window_shares_one_transaction_with_the_last_caught_up() {
        let mut s = queued(vec![
            caught_up(1),
            changes(&[2, 3], 5),
            caught_up(3),
            changes(&[4], 6),
            caught_up(4),
            None,
            changes(&[5], 6),
        ]);
        let until = Instant::now() + Duration::from_millis(50);
        let (group, next) = gather(vec![change(1)], 1, Some(until), &mut s).await;
        assert_eq!(revisions(&group), [1, 2, 3, 4]);
        assert_eq!(group.proxy_revision, 6);
        assert_eq!(group.caught_up, Some(4));
        assert!(next.is_none());
        assert!(Instant::now() >= until, "the group ended before its window");
        assert_eq!(
            s.0.len(),
            1,
            "the change after the window is the next group's"
        );
    }

    #[tokio::test]
    async fn changes_after_caught_up_mean_the_group_is_not_caught_up() {
        let mut s = queued(vec![caught_up(1), changes(&[2], 2), None]);
        let until = Instant::now() + Duration::from_millis(50);
        let (group, _) = gather(vec![change(1)], 1, Some(until), &mut s).await;
        assert_eq!(revisions(&group), [1, 2]);
        assert_eq!(group.caught_up, None);
    }

    #[tokio::test]
    async fn anything_else_ends_the_group_and_is_handed_back() {
        let too_old = Some(Ok(Some(WatchItem::TooOld("gone".into()))));
        let mut s = queued(vec![changes(&[2], 2), too_old, changes(&[3], 3)]);
        let (group, next) = gather(vec![change(1)], 1, window(), &mut s).await;
        assert_eq!(revisions(&group), [1, 2]);
        assert_eq!(next, Some(Ok(Some(WatchItem::TooOld("gone".into())))));
        let mut ended = queued(vec![Some(Ok(None))]);
        let (_, next) = gather(vec![change(1)], 1, window(), &mut ended).await;
        assert_eq!(next, Some(Ok(None)));
        let cut = ProxyError::Unavailable("cut".into());
        let mut failed = queued(vec![Some(Err(cut.clone()))]);
        let (group, next) = gather(vec![change(1)], 1, window(), &mut failed).await;
        assert_eq!(revisions(&group), [1]);
        assert_eq!(next, Some(Err(cut)));
    }

    #[tokio::test]
    async fn a_group_takes_at_most_its_share_of_changes() {
        let many: Vec<u64> = (2..=GROUP_MOST as u64 + 5).collect();
        let mut s = queued(vec![changes(&many, 1), changes(&[1], 1)]);
        let (group, next) = gather(vec![change(1)], 1, window(), &mut s).await;
        assert_eq!(group.changes.len(), GROUP_MOST + 5);
        assert!(next.is_none());
        assert_eq!(s.0.len(), 1, "a full group stops taking");
    }
}
