//! HR API sessions: raw tokens of the form `<64 hex>:<user>` with a sliding expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The live sessions of one simulator.
pub struct Sessions {
    timeout: Duration,
    live: Mutex<HashMap<String, Instant>>,
    counter: std::sync::atomic::AtomicU64,
}

impl Sessions {
    pub fn new(timeout: Duration) -> Self {
        Sessions {
            timeout,
            live: Mutex::new(HashMap::new()),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The timeout, as `GET Authentication/SessionTimeout` reports it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Opens a session for `user` and returns its token.
    pub fn open(&self, user: &str) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = format!("{}:{user}", random_hex(n));
        self.lock().insert(token.clone(), Instant::now());
        token
    }

    /// True when `token` is a live session, whose expiry then slides forward. An expired
    /// session is forgotten: SiPass answers 401 from then on.
    pub fn touch(&self, token: &str) -> bool {
        let mut live = self.lock();
        match live.get_mut(token) {
            Some(last) if last.elapsed() <= self.timeout => {
                *last = Instant::now();
                true
            }
            Some(_) => {
                live.remove(token);
                false
            }
            None => false,
        }
    }

    /// Ends a session (logout).
    pub fn close(&self, token: &str) {
        self.lock().remove(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// 64 hex digits that differ per session and per process start.
fn random_hex(n: u64) -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let mut state = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..4)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            format!("{:016x}", z ^ (z >> 31))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_sipass_shape_and_expire() {
        let sessions = Sessions::new(Duration::from_millis(30));
        let token = sessions.open("operator");
        let (hex, user) = token.split_once(':').unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(user, "operator");
        assert!(sessions.touch(&token));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!sessions.touch(&token));
        assert!(!sessions.touch(&token), "an expired session stays expired");
    }
}
