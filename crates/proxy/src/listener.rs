//! Port 5645 faces the network: the accept loop that keeps strangers from holding it.
//!
//! Anyone on the network can open a TCP connection before any token is checked, so every
//! connection is bounded before it can cost anything:
//! - a TLS handshake must finish within [`ListenerLimits::handshake_timeout`];
//! - a connection whose peer sends nothing for [`ListenerLimits::idle_timeout`] is closed (a
//!   live role answers the server's HTTP/2 pings, so it is never idle that long);
//! - connections still in their handshake are capped per address and in total: a new one
//!   pushes out the oldest, so that a flood of silent sockets cannot keep a good role out;
//! - established connections are capped per address and in total: beyond that a new one is
//!   closed at once.
//!
//! The TLS handshake runs here rather than in tonic so that each stage can be counted and cut.

use std::collections::{HashMap, VecDeque};
use std::future::Future as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How long the proxy holds connections at each stage, and how many it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// From accept to a finished TLS handshake.
    pub handshake_timeout: Duration,
    /// The longest a connection may go without a byte from its peer.
    pub idle_timeout: Duration,
    /// Connections open at once, in any stage.
    pub max_connections: usize,
    /// Established connections from one address.
    pub max_per_address: usize,
    /// Connections from one address still in their TLS handshake.
    pub max_handshakes_per_address: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            handshake_timeout: Duration::from_secs(10),
            // Three of the server's 30-second keep-alive pings.
            idle_timeout: Duration::from_secs(95),
            max_connections: 1024,
            max_per_address: 64,
            max_handshakes_per_address: 64,
        }
    }
}

impl ListenerLimits {
    /// Fits the connection cap under the process's file descriptor limit, leaving room for
    /// the databases, SiPass connections and logs.
    pub fn within_open_files(mut self, open_files: u64) -> Self {
        let room = usize::try_from(open_files.saturating_sub(128)).unwrap_or(usize::MAX);
        self.max_connections = self.max_connections.min(room.max(16));
        self
    }
}

/// Raises the soft limit on open files to the hard limit, so that the connection cap, not the
/// operating system, decides when connections are refused. Returns the limit now in force.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every Unix
        Some(limit.rlim_cur as u64)
    }
}

/// Windows has no per-process descriptor limit of this kind.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}

/// What the listener holds right now, for the status API and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ListenerCounts {
    pub handshaking: usize,
    pub established: usize,
    /// Connections closed because a limit was reached, since start.
    pub turned_away: u64,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Connections in their handshake, oldest first, with the switch that ends them.
    handshaking: VecDeque<(u64, IpAddr, AbortHandle)>,
    established: HashMap<IpAddr, usize>,
    established_total: usize,
    turned_away: u64,
}

impl Registry {
    fn handshaking_from(&self, ip: IpAddr) -> usize {
        self.handshaking.iter().filter(|(_, a, _)| *a == ip).count()
    }

    /// Ends the oldest handshake (from `ip` when given): its task drops the socket.
    fn evict_oldest(&mut self, ip: Option<IpAddr>) -> bool {
        let found = self
            .handshaking
            .iter()
            .position(|(_, a, _)| ip.is_none_or(|ip| *a == ip));
        match found.and_then(|i| self.handshaking.remove(i)) {
            Some((_, _, abort)) => {
                abort.abort();
                self.turned_away += 1;
                true
            }
            None => false,
        }
    }

    fn remove_handshake(&mut self, id: u64) {
        if let Some(i) = self.handshaking.iter().position(|(h, _, _)| *h == id) {
            self.handshaking.remove(i);
        }
    }
}

/// The shared book of open connections.
#[derive(Clone, Default)]
pub struct Connections {
    registry: Arc<Mutex<Registry>>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current counts.
    pub fn counts(&self) -> ListenerCounts {
        let registry = self.lock();
        ListenerCounts {
            handshaking: registry.handshaking.len(),
            established: registry.established_total,
            turned_away: registry.turned_away,
        }
    }

    /// Makes room for a new connection from `ip`: pushes out the oldest handshakes where
    /// they are over their caps. False when the connection must be refused (too many
    /// established connections, from this address or in total).
    fn make_room(&self, ip: IpAddr, limits: &ListenerLimits) -> bool {
        let mut registry = self.lock();
        if registry.established.get(&ip).copied().unwrap_or(0) >= limits.max_per_address {
            registry.turned_away += 1;
            return false;
        }
        if registry.handshaking_from(ip) >= limits.max_handshakes_per_address {
            registry.evict_oldest(Some(ip));
        }
        while registry.handshaking.len() + registry.established_total >= limits.max_connections {
            if !registry.evict_oldest(None) {
                registry.turned_away += 1;
                return false;
            }
        }
        true
    }

    fn start_handshake(&self, ip: IpAddr, abort: AbortHandle) -> u64 {
        let mut registry = self.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.handshaking.push_back((id, ip, abort));
        id
    }

    fn handshake_ended(&self, id: u64) {
        self.lock().remove_handshake(id);
    }

    /// Moves a connection from handshaking to established; the slot frees itself on drop.
    fn establish(&self, id: u64, ip: IpAddr) -> Slot {
        let mut registry = self.lock();
        registry.remove_handshake(id);
        *registry.established.entry(ip).or_default() += 1;
        registry.established_total += 1;
        Slot {
            connections: self.clone(),
            ip,
        }
    }
}

/// An established connection's place in the book, given back when the connection ends.
struct Slot {
    connections: Connections,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = self.connections.lock();
        registry.established_total = registry.established_total.saturating_sub(1);
        if let Some(n) = registry.established.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                registry.established.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections on `listener` under `limits` and yields each once its TLS handshake is
/// done, until the returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: ListenerLimits,
    connections: Connections,
) -> tokio_stream::wrappers::ReceiverStream<Result<Conn, io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(
        listener,
        TlsAcceptor::from(tls),
        limits,
        connections,
        tx,
    ));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

type Ready = mpsc::Sender<Result<Conn, io::Error>>;

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: ListenerLimits,
    connections: Connections,
    ready: Ready,
) {
    let mut last_warning: Option<Instant> = None;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of descriptors: free one by ending the oldest handshake.
                    connections.lock().evict_oldest(None);
                    warn_now_and_then(&mut last_warning, || {
                        tracing::warn!("cannot accept connections on the bridge port: {err}");
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = ready.closed() => return,
        };
        if !connections.make_room(peer.ip(), &limits) {
            warn_now_and_then(&mut last_warning, || {
                tracing::warn!(
                    %peer,
                    "refused a connection: {} connections from this address or {} in total are open",
                    limits.max_per_address,
                    limits.max_connections
                );
            });
            continue;
        }
        let _ = tcp.set_nodelay(true);
        spawn_handshake(tcp, peer, acceptor.clone(), limits, &connections, &ready);
    }
}

/// Logs at most one warning every ten seconds: a flood must not flood the log too.
fn warn_now_and_then(last: &mut Option<Instant>, warn: impl FnOnce()) {
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        *last = Some(Instant::now());
        warn();
    }
}

fn spawn_handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    limits: ListenerLimits,
    connections: &Connections,
    ready: &Ready,
) {
    let info = TcpConnectInfo {
        local_addr: tcp.local_addr().ok(),
        remote_addr: Some(peer),
    };
    // The task waits for its id so that it can never finish before it is registered.
    let (id_tx, id_rx) = tokio::sync::oneshot::channel::<u64>();
    let books = connections.clone();
    let ready = ready.clone();
    let task = tokio::spawn(async move {
        let Ok(id) = id_rx.await else { return };
        let io = IdleTimeout::new(tcp, limits.idle_timeout);
        let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(io)).await;
        let tls = match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                tracing::debug!(%peer, "TLS handshake failed: {err}");
                books.handshake_ended(id);
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake not finished in time");
                books.handshake_ended(id);
                return;
            }
        };
        let slot = books.establish(id, peer.ip());
        let conn = Conn {
            tls,
            info,
            _slot: slot,
        };
        let _ = ready.send(Ok(conn)).await;
    });
    let id = connections.start_handshake(peer.ip(), task.abort_handle());
    let _ = id_tx.send(id);
}

/// A connection ready for HTTP/2: TLS over an idle-limited TCP stream, holding its slot.
pub struct Conn {
    tls: TlsStream<IdleTimeout<TcpStream>>,
    info: TcpConnectInfo,
    _slot: Slot,
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

/// A stream that fails its reads once the peer has sent nothing for a while, which makes the
/// HTTP/2 server close the connection.
pub struct IdleTimeout<S> {
    inner: S,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, limit: Duration) -> Self {
        IdleTimeout {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let next = tokio::time::Instant::now() + self.limit;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the peer sent nothing for {:?}", self.limit),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ListenerLimits {
        ListenerLimits {
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_connections: 4,
            max_per_address: 2,
            max_handshakes_per_address: 2,
        }
    }

    async fn parked() -> AbortHandle {
        tokio::spawn(std::future::pending::<()>()).abort_handle()
    }

    #[tokio::test]
    async fn a_new_handshake_pushes_out_the_oldest_from_its_address() {
        let books = Connections::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = parked().await;
        for _ in 0..2 {
            assert!(books.make_room(a, &limits()));
        }
        books.start_handshake(a, first.clone());
        books.start_handshake(a, parked().await);
        assert!(books.make_room(a, &limits()));
        tokio::task::yield_now().await;
        assert!(first.is_finished(), "the oldest handshake is ended");
        assert_eq!(books.counts().handshaking, 1);
        assert_eq!(books.counts().turned_away, 1);
    }

    #[tokio::test]
    async fn established_connections_are_capped_per_address_and_freed_on_drop() {
        let books = Connections::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let id = books.start_handshake(a, parked().await);
        let one = books.establish(id, a);
        let id = books.start_handshake(a, parked().await);
        let _two = books.establish(id, a);
        assert!(!books.make_room(a, &limits()), "a third from one address");
        assert!(
            books.make_room(b, &limits()),
            "another address still gets in"
        );
        drop(one);
        assert!(books.make_room(a, &limits()));
        assert_eq!(books.counts().established, 1);
    }

    #[tokio::test]
    async fn the_total_cap_ends_handshakes_before_refusing() {
        let books = Connections::default();
        let limits = limits();
        let mut slots = Vec::new();
        for i in 1..=3u8 {
            let ip = IpAddr::from([10, 0, 0, i]);
            let id = books.start_handshake(ip, parked().await);
            slots.push(books.establish(id, ip));
        }
        let waiting = parked().await;
        books.start_handshake(IpAddr::from([10, 0, 1, 1]), waiting.clone());
        assert!(books.make_room(IpAddr::from([10, 0, 2, 1]), &limits));
        tokio::task::yield_now().await;
        assert!(waiting.is_finished());
        let id = books.start_handshake(IpAddr::from([10, 0, 2, 1]), parked().await);
        slots.push(books.establish(id, IpAddr::from([10, 0, 2, 1])));
        assert!(!books.make_room(IpAddr::from([10, 0, 3, 1]), &limits));
    }

    #[test]
    fn the_cap_fits_under_the_open_files_limit() {
        assert_eq!(
            ListenerLimits::default()
                .within_open_files(1024)
                .max_connections,
            896
        );
        assert_eq!(
            ListenerLimits::default()
                .within_open_files(1 << 20)
                .max_connections,
            1024
        );
    }
}
