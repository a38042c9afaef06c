//! The server of `docs/native-check.py`: records seeded samples of known distributions
//! into its own collector and serves them through [`MonitoringService`] on loopback.
//!
//! Run with
//!
//! ```text
//! cargo run -p observe-tower --features protobuf --example native_check_server -- \
//!     --port 9101 --seed 1 --samples 200000 --schema 3 --dump /tmp/samples-1 \
//!     --second-half-when /tmp/go
//! ```
//!
//! Each distribution is one operation: `lognormal` (median 20 ms, two decades between
//! p0.1 and p99.9), `bimodal` (88 % around 5 ms, 12 % around 400 ms) and `long_tail`
//! (1 ms plus a Pareto tail of index 1.5). Half the samples are recorded at start, the
//! other half once the file `--second-half-when` exists (the check creates it after a
//! first scrape), so that rates are not zero. With
//! `--dump`, the durations recorded (in nanoseconds, little-endian `u64`) are written
//! to `<dump>.<operation>` for the check to compute the exact quantiles.

use std::io::Write as _;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use observe_core::MetricsCollector;
use observe_tower::MonitoringService;

/// SplitMix64: small, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
}

/// One sample of `distribution`, in seconds.
fn sample(rng: &mut Rng, distribution: &str) -> f64 {
    match distribution {
        // ±3.09 σ (p0.1 to p99.9) spans ln(100): two decades.
        "lognormal" => rng.lognormal(0.020, 0.745),
        "bimodal" => {
            if rng.uniform() < 0.12 {
                rng.lognormal(0.400, 0.30)
            } else {
                rng.lognormal(0.005, 0.25)
            }
        }
        // 1 ms plus Pareto(x_m = 2 ms, α = 1.5).
        _ => 0.001 + 0.002 * rng.uniform().powf(-1.0 / 1.5),
    }
}

const DISTRIBUTIONS: [&str; 3] = ["lognormal", "bimodal", "long_tail"];

struct Args {
    port: u16,
    seed: u64,
    samples: usize,
    schema: Option<i8>,
    dump: Option<String>,
    second_half_when: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        seed: 1,
        samples: 200_000,
        schema: None,
        dump: None,
        second_half_when: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(|e| bad(&e))?,
            "--seed" => args.seed = value.parse().map_err(|e| bad(&e))?,
            "--samples" => args.samples = value.parse().map_err(|e| bad(&e))?,
            "--schema" => args.schema = Some(value.parse().map_err(|e| bad(&e))?),
            "--dump" => args.dump = Some(value),
            "--second-half-when" => args.second_half_when = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Records `samples[range]` of each distribution; one sample in 997 carries a sampled
/// trace, so the expositions Prometheus scrapes carry exemplars too (on classic buckets
/// in protobuf, on `_bucket` lines in OpenMetrics), and a scrape error for one would show.
fn record(collector: &MetricsCollector, samples: &[Vec<u64>], range: std::ops::Range<usize>) {
    for (name, durations) in DISTRIBUTIONS.iter().zip(samples) {
        let op = collector.operation(name);
        for i in range.clone() {
            let duration = Duration::from_nanos(durations[i]);
            let trace = observe_core::TraceContext::new(i as u128 + 1, i as u64 + 1, true);
            match trace {
                Some(trace) if i % 997 == 0 => {
                    op.record_traced(duration, observe_core::Outcome::Ok, &trace);
                }
                _ => op.record(duration, false),
            }
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let mut builder = MetricsCollector::builder();
    if let Some(schema) = args.schema {
        builder = builder.native_histograms(schema);
    }
    let collector = builder.build()?;

    let mut rng = Rng(args.seed);
    let samples: Vec<Vec<u64>> = DISTRIBUTIONS
        .iter()
        .map(|d| {
            (0..args.samples)
                .map(|_| (sample(&mut rng, d) * 1e9).round() as u64)
                .collect()
        })
        .collect();
    if let Some(dump) = &args.dump {
        for (name, durations) in DISTRIBUTIONS.iter().zip(&samples) {
            let mut file =
                std::io::BufWriter::new(std::fs::File::create(format!("{dump}.{name}"))?);
            for ns in durations {
                file.write_all(&ns.to_le_bytes())?;
            }
            file.flush()?;
        }
    }
    let half = args.samples / 2;
    record(&collector, &samples, 0..half);
    {
        let collector = collector.clone();
        let when = args.second_half_when;
        tokio::spawn(async move {
            while let Some(path) = &when {
                if std::path::Path::new(path).exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            record(&collector, &samples, half..samples[0].len());
        });
    }

    let monitoring = MonitoringService::builder(&collector).build();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(monitoring.clone());
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
