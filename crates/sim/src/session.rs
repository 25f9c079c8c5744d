//! HR API sessions: the operator allowed to log in, and raw tokens of the form
//! `<64 upper-case hex>:<user>` with a sliding expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A SiPass operator's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user: String,
    pub password: String,
}

impl Operator {
    /// The documented local default, for demos and tests only.
    pub const DEFAULT: &'static str = "operator:sipass";
}

/// The live sessions of one simulator.
pub struct Sessions {
    timeout: Duration,
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    pub fn new(timeout: Duration) -> Self {
        Sessions {
            timeout,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// The timeout, as `GET Authentication/SessionTimeout` reports it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Opens a session for `user` and returns its token.
    pub fn open(&self, user: &str) -> String {
        // Real SiPass sends the hex part in upper case (Val0429's recorded login).
        let token = format!("{}:{user}", tls::random_hex(32).to_ascii_uppercase());
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

    /// Forgets every session (fault `ExpireSessions`): every token gets 401 from now on.
    pub fn expire_all(&self) {
        self.lock().clear();
    }

    /// Ends a session (logout).
    pub fn close(&self, token: &str) {
        self.lock().remove(token);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
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
