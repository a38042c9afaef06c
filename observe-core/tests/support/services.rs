//! The real services the tests talk to: their URLs (from the environment, with
//! localhost defaults), and the rule for when one is unreachable: skip with a printed
//! reason, or fail when `OBSERVE_REQUIRE_SERVICES=1`. Shared by the test suites of the
//! workspace (`#[path]`-included).

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

/// PostgreSQL: `OBSERVE_TEST_POSTGRES_URL`, or the machine's local server.
pub const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Redis: `OBSERVE_TEST_REDIS_URL`, or the machine's local server.
pub const REDIS_DEFAULT: &str = "redis://127.0.0.1:6379";

/// Whether unreachable services fail the tests instead of skipping them.
pub fn services_required() -> bool {
    std::env::var("OBSERVE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A reachable service: its URL and its socket address.
pub struct Service {
    pub url: String,
    pub addr: SocketAddr,
}

/// The PostgreSQL service, or `None` (with a printed reason) when it is unreachable.
pub async fn postgres(test: &str) -> Option<Service> {
    service(
        test,
        "PostgreSQL",
        "OBSERVE_TEST_POSTGRES_URL",
        POSTGRES_DEFAULT,
        5432,
    )
    .await
}

/// The Redis service, or `None` (with a printed reason) when it is unreachable.
pub async fn redis(test: &str) -> Option<Service> {
    service(test, "Redis", "OBSERVE_TEST_REDIS_URL", REDIS_DEFAULT, 6379).await
}

async fn service(test: &str, what: &str, var: &str, default: &str, port: u16) -> Option<Service> {
    let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let reachable = match host_port(&url, port) {
        Some(target) => {
            match tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::lookup_host(target.clone()),
            )
            .await
            {
                Ok(Ok(mut addrs)) => match addrs.next() {
                    Some(addr) => match tokio::time::timeout(
                        Duration::from_secs(2),
                        tokio::net::TcpStream::connect(addr),
                    )
                    .await
                    {
                        Ok(Ok(_)) => Ok(addr),
                        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
                        Err(_) => Err(format!("connecting to {addr} timed out")),
                    },
                    None => Err(format!("{target} resolves to no address")),
                },
                Ok(Err(e)) => Err(format!("cannot resolve {target}: {e}")),
                Err(_) => Err(format!("resolving {target} timed out")),
            }
        }
        None => Err(format!("cannot read host and port from {var}")),
    };
    match reachable {
        Ok(addr) => Some(Service { url, addr }),
        Err(reason) if services_required() => {
            panic!(
                "{test}: {what} is required (OBSERVE_REQUIRE_SERVICES=1) but unreachable: {reason}"
            )
        }
        Err(reason) => {
            eprintln!("SKIP {test}: {what} is unreachable ({reason}); set {var} or start it");
            None
        }
    }
}

/// `host:port` of a URL, with `default_port` when it has none.
fn host_port(url: &str, default_port: u16) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let has_port = host_port
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host_port.ends_with(']');
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}
