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

/// Where to ask next, from what the pages taken so far said.
#[derive(Debug, Default)]
pub(super) struct Paging {
    next_start: usize,
    /// SiPass's total once a page told it (negative: SiPass does not know).
    total: Option<i64>,
    largest_page: usize,
}

impl Paging {
    /// The start of the next page to ask for, when one is worth asking for.
    pub(super) fn next_to_ask(&mut self) -> Option<usize> {
        let worth = self
            .total
            .is_none_or(|total| total < 0 || (self.next_start as i64) < total);
        worth.then(|| {
            let start = self.next_start;
            self.next_start += PAGE;
            start
        })
    }

    /// Takes in a page of `count` read from `start` with SiPass's `total`: whether SiPass
    /// has more, by its total or, when it gives none, until a page is shorter than the
    /// longest so far (a server may cap pages below what was asked), and whether the pages
    /// asked after this one must be forgotten: after a short page they start at the wrong
    /// position, and asking starts again from its end.
    pub(super) fn took(&mut self, start: usize, count: usize, total: i64) -> Took {
        self.largest_page = self.largest_page.max(count);
        self.total = Some(total);
        let end = start + count;
        let more = count > 0
            && if total < 0 {
                count >= self.largest_page
            } else {
                (end as i64) < total
            };
        let forget = more && count < PAGE;
        if forget {
            self.next_start = end;
        }
        Took { more, forget }
    }
}

/// What taking a page decided.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Took {
    pub more: bool,
    pub forget: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the paging against a server of `size` cardholders that answers at most `cap`
    /// per call and gives its total or not, with `under_way` pages asked ahead; returns the
    /// ranges taken in order.
    fn pages_taken(
        size: usize,
        cap: usize,
        gives_total: bool,
        under_way: usize,
    ) -> Vec<(usize, usize)> {
        let mut paging = Paging::default();
        let mut asked = VecDeque::new();
        let mut taken = Vec::new();
        loop {
            while asked.len() < under_way
                && let Some(start) = paging.next_to_ask()
            {
                asked.push_back(start);
            }
            let start = asked.pop_front().expect("a page under way");
            let count = size.saturating_sub(start).min(cap).min(PAGE);
            let total = if gives_total { size as i64 } else { -1 };
            taken.push((start, count));
            let took = paging.took(start, count, total);
            if took.forget {
                asked.clear();
            }
            if !took.more {
                return taken;
            }
            assert!(taken.len() < 10_000, "paging does not end");
        }
    }

    /// Every cardholder taken exactly once, in order, whatever the server.
    fn assert_covers(taken: &[(usize, usize)], size: usize) {
        let mut at = 0;
        for &(start, count) in taken.iter().filter(|(_, count)| *count > 0) {
            assert_eq!(start, at, "{taken:?}");
            at += count;
        }
        assert_eq!(at, size, "{taken:?}");
    }

    #[test]
    fn every_cardholder_is_taken_once_whatever_the_server_caps_or_tells() {
        for size in [0, 1, 999, 1000, 1001, 3999, 4000, 4001, 12_345] {
            for cap in [1000, 10_000, 500, 333] {
                for gives_total in [true, false] {
                    for under_way in [1, 2, 4] {
                        let taken = pages_taken(size, cap, gives_total, under_way);
                        assert_covers(&taken, size);
                    }
                }
            }
        }
    }

    #[test]
    fn a_server_that_gives_its_total_is_not_asked_past_it() {
        let mut paging = Paging::default();
        assert_eq!(paging.next_to_ask(), Some(0));
        assert_eq!(
            paging.took(0, 1000, 1500),
            Took {
                more: true,
                forget: false
            }
        );
        assert_eq!(paging.next_to_ask(), Some(1000));
        assert_eq!(paging.next_to_ask(), None);
        assert_eq!(
            paging.took(1000, 500, 1500),
            Took {
                more: false,
                forget: false
            }
        );
    }
}
