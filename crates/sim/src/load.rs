//! Background load: random cardholder changes (`--changes-per-sec`) and events of every
//! type (`--events-per-sec`), at a steady rate.

use std::sync::Arc;
use std::time::Duration;

use crate::site::Site;

/// How often the generators wake; each wake does the work due since the last one, so high
/// rates need no timer finer than this.
const TICK: Duration = Duration::from_millis(10);

/// Starts the generators that have a non-zero rate. They stop with the runtime.
pub fn start(site: Arc<Site>, changes_per_sec: f64, events_per_sec: f64) {
    if changes_per_sec > 0.0 {
        let site = site.clone();
        tokio::spawn(at_rate(changes_per_sec, move |_| site.random_change()));
    }
    if events_per_sec > 0.0 {
        tokio::spawn(at_rate(events_per_sec, move |n| site.random_event(n)));
    }
}

/// Calls `work(n)` `rate` times a second, `n` counting from 0.
async fn at_rate(rate: f64, work: impl Fn(u64) + Send + 'static) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = tokio::time::Instant::now();
    let mut done: u64 = 0;
    loop {
        interval.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        // When the machine cannot keep up, the backlog is dropped rather than worked off
        // in one go: a tick never runs for long, so the simulator stays responsive and
        // stops promptly.
        let most = (rate * TICK.as_secs_f64() * 2.0).ceil() as u64 + 1;
        if due > done + most {
            done = due - most;
        }
        while done < due {
            work(done);
            done += 1;
        }
    }
}
