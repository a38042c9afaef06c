//! The test suites' TCP proxy (`observe-core/tests/support/proxy.rs`, included as it is)
//! as a program, for the load scripts: one proxy per upstream service, cut, stalled and
//! restored by commands on standard input. `benches/load/soak.sh` runs it.
//!
//! ```text
//! cargo build --release -p observe-benches --bin fault-proxy
//! fault-proxy db=127.0.0.1:5432 redis=127.0.0.1:6379
//! ```
//!
//! It prints `listening NAME ADDRESS` for each upstream, then `ready`. Each line read
//! from standard input is one command, `cut NAME`, `stall NAME` or `restore NAME`
//! (`NAME` may be `all`), answered by `ok COMMAND NAME UNIX_MS` once it has taken effect,
//! or by `error ...`. It exits on `quit` or at the end of its input, so it never outlives
//! the script that feeds it.

#[path = "../../../observe-core/tests/support/proxy.rs"]
mod proxy;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};

use proxy::Proxy;

/// One named upstream and the proxy in front of it.
struct Named {
    name: String,
    proxy: Proxy,
}

/// `NAME=HOST:PORT`.
fn parse_upstream(arg: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = arg
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=HOST:PORT, got {arg:?}"))?;
    if name.is_empty() || name == "all" {
        return Err(format!("{name:?} cannot name an upstream"));
    }
    let addr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not an IP address and port: {e}"))?;
    Ok((name.to_owned(), addr))
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Applies one command line; the answer to print.
fn apply(proxies: &[Named], line: &str) -> String {
    let mut words = line.split_whitespace();
    let (Some(command), Some(target), None) = (words.next(), words.next(), words.next()) else {
        return format!("error expected COMMAND NAME, got {line:?}");
    };
    let action: fn(&Proxy) = match command {
        "cut" => Proxy::cut,
        "stall" => Proxy::stall,
        "restore" => Proxy::restore,
        _ => return format!("error unknown command {command:?} (cut, stall, restore, quit)"),
    };
    let mut matched = false;
    for named in proxies
        .iter()
        .filter(|n| target == "all" || n.name == target)
    {
        action(&named.proxy);
        matched = true;
    }
    if matched {
        format!("ok {command} {target} {}", unix_ms())
    } else {
        format!("error no upstream named {target:?}")
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let upstreams: Result<Vec<_>, _> = std::env::args()
        .skip(1)
        .map(|a| parse_upstream(&a))
        .collect();
    let upstreams = match upstreams {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => {
            eprintln!("usage: fault-proxy NAME=HOST:PORT...");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut proxies = Vec::with_capacity(upstreams.len());
    for (name, upstream) in upstreams {
        let proxy = Proxy::start(upstream).await;
        println!("listening {name} {}", proxy.addr());
        proxies.push(Named { name, proxy });
    }
    println!("ready");

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.trim() == "quit" => break,
            Ok(Some(line)) if line.trim().is_empty() => {}
            Ok(Some(line)) => println!("{}", apply(&proxies, line.trim())),
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: cannot read the commands: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::{apply, parse_upstream};

    #[test]
    fn upstreams_are_name_equals_address() {
        assert_eq!(
            parse_upstream("db=127.0.0.1:5432"),
            Ok(("db".to_owned(), ([127, 0, 0, 1], 5432).into()))
        );
        for bad in [
            "db",
            "=127.0.0.1:1",
            "all=127.0.0.1:1",
            "db=localhost:5432",
            "db=1.2.3.4",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_commands_are_answered_with_an_error() {
        for (line, answer) in [
            ("cut", "error expected COMMAND NAME"),
            ("cut db now", "error expected COMMAND NAME"),
            ("unplug db", "error unknown command"),
            ("cut db", "error no upstream named \"db\""),
        ] {
            let got = apply(&[], line);
            assert!(got.starts_with(answer), "{line}: {got}");
        }
    }
}
