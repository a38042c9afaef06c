//! `observe-axum-example`: run the server, or `healthcheck` a running one.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use observe_axum_example::config::{Command, Config};
use observe_axum_example::{healthcheck, serve, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    // Bad flags or variables: clap prints which one and exits with code 2.
    let config = Config::parse();
    if let Some(Command::Healthcheck {
        url,
        timeout_seconds,
    }) = &config.command
    {
        return match healthcheck::check(url, Duration::from_secs(*timeout_seconds)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("unhealthy: {reason}");
                ExitCode::FAILURE
            }
        };
    }
    let collector = match observe_axum_example::app::collector(&config) {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format, &collector);
    let app = match observe_axum_example::build_with(&config, collector).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("error: {e}");
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1));
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} (OBSERVE_ADDR): {e}",
                config.addr
            );
            return ExitCode::from(2);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.addr.to_string(), |a| a.to_string());
    tracing::info!(%addr, "listening");
    println!(
        "observe-axum-example listening on http://{addr} (monitoring at /monitoring, metrics at /metrics)"
    );
    match serve(listener, app, shutdown::signal(), config.drain()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
