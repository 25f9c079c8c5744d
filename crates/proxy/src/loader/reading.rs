//! Cardholder pages read several at once, taken in position order.
//!
//! A page is a request, SiPass building the page, its transfer, then reading and mapping
//! it here. Read one pair at a time, each step waited on the one before: the simulator
//! worked while the proxy waited, then the reverse, and a first load used 1.5 of the two
//! cores. With several pages under way, SiPass builds the next ones while this side reads
//! the ones that came.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use model::Revision;
use sipass_client::{HrClient, SiPassError};

use super::{CardholderPage, PAGE, page_changes};
use crate::cache::Cache;

type Reading<'c> = Pin<Box<dyn Future<Output = Result<CardholderPage, SiPassError>> + Send + 'c>>;

/// A page asked for: where it starts, the cache's revision when it was asked for, and the
/// read, under way or done.
struct Asked<'c> {
    start: usize,
    read_at: Revision,
    read: Read<'c>,
}

enum Read<'c> {
    UnderWay(Reading<'c>),
    Done(Result<CardholderPage, SiPassError>),
}

/// The pages under way, in the order they were asked for.
pub(super) struct PagesUnderWay<'c> {
    client: &'c HrClient,
    cache: &'c Cache,
    fields: &'c [&'c str],
    asked: VecDeque<Asked<'c>>,
}

impl<'c> PagesUnderWay<'c> {
    pub(super) fn new(client: &'c HrClient, cache: &'c Cache, fields: &'c [&'c str]) -> Self {
        PagesUnderWay {
            client,
            cache,
            fields,
            asked: VecDeque::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.asked.len()
    }

    /// Asks for the page of `PAGE` cardholders from `start`. Its revision is taken before
    /// the request leaves, so that whatever changes after it is known to be newer.
    pub(super) fn ask(&mut self, start: usize) {
        let read_at = self.cache.revision();
        let read: Reading<'c> = Box::pin(page_changes(self.client, start, self.fields));
        self.asked.push_back(Asked {
            start,
            read_at,
            read: Read::UnderWay(read),
        });
    }

    /// Forgets every page under way (they were asked from the wrong positions).
    pub(super) fn forget(&mut self) {
        self.asked.clear();
    }

    /// The oldest page asked for, once read (the others go on meanwhile): its start, its
    /// revision and the page. `None` when none is under way.
    pub(super) async fn next(
        &mut self,
    ) -> Option<(usize, Revision, Result<CardholderPage, SiPassError>)> {
        if self.asked.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            for asked in self.asked.iter_mut() {
                if let Read::UnderWay(reading) = &mut asked.read
                    && let Poll::Ready(page) = reading.as_mut().poll(cx)
                {
                    asked.read = Read::Done(page);
                }
            }
            match self.asked.front() {
                Some(Asked {
                    read: Read::Done(_),
                    ..
                }) => Poll::Ready(()),
                _ => Poll::Pending,
            }
        })
        .await;
        match self.asked.pop_front()? {
            Asked {
                start,
                read_at,
                read: Read::Done(page),
            } => Some((start, read_at, page)),
            Asked { .. } => None,
        }
    }
}

/// Pages asked for ahead of the one being taken: enough that SiPass always has one to
/// build while this side reads, few enough to hold (about 4 MB each while read).
pub(super) const PAGES_UNDER_WAY: usize = 4;

/// Whether another page should be asked for at `next_start`, given SiPass's total once a
/// page told it (negative: SiPass does not know).
pub(super) fn worth_asking(next_start: usize, total: Option<i64>) -> bool {
    total.is_none_or(|total| total < 0 || (next_start as i64) < total)
}

/// The position after a page of `count` read from `start`, and whether SiPass has more:
/// by its total, or, when it gives none, until a page is shorter than the longest so far
/// (a server may cap pages below what was asked).
pub(super) fn after_page(
    start: usize,
    count: usize,
    total: i64,
    largest_page: usize,
) -> (usize, bool) {
    let end = start + count;
    let more = if total < 0 {
        count > 0 && count >= largest_page
    } else {
        count > 0 && (end as i64) < total
    };
    (end, more)
}

/// Whether a page was shorter than asked: the pages asked after it start at the wrong
/// position and must be asked again from its end.
pub(super) fn short(count: usize) -> bool {
    count < PAGE
}
