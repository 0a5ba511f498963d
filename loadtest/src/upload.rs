//! Upload throughput: the same bytes streamed through `percolate-gateway`
//! (a separate process, as deployed) and put directly with `aws-sdk-s3`
//! (multipart, the same part size) into the same `s3s-fs` server, in
//! alternating rounds; and the gateway's resident memory during its uploads.

use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::{Context as _, Result};
use percolate_objects::{ObjectStore, S3Config};
use percolate_sdk::{Client, UploadOptions};
use percolate_testkit::{NatsServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Kind, S3Server, ServerProcess};
use tokio::io::{AsyncRead, ReadBuf};

const BUCKET: &str = "percolate-bench";
/// Bytes per piece handed to the object writer on the direct path, the
/// same as the SDK's upload messages.
const PIECE: usize = 1 << 20;

/// Options of `percolate-bench upload`.
#[derive(clap::Args)]
pub struct UploadArgs {
    /// Size of the file, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mb: u64,
    /// Rounds of (direct, gateway).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// `len` bytes of a fixed pattern, produced as they are read (no file, no
/// buffer of the whole thing).
struct Pattern {
    left: u64,
    at: u64,
}

impl Pattern {
    fn new(len: u64) -> Self {
        Self { left: len, at: 0 }
    }

    fn fill(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for (i, byte) in out[..n].iter_mut().enumerate() {
            *byte = ((self.at + i as u64) % 251) as u8;
        }
        self.at += n as u64;
        self.left -= n as u64;
        n
    }
}

impl AsyncRead for Pattern {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = self.fill(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// A kibibyte figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line.split_whitespace().nth(1).context("no value")?.parse()?)
}

/// Runs the benchmark and prints a Markdown table.
pub async fn run(args: &UploadArgs) -> Result<()> {
    let size = args.size_mb << 20;
    let nats = NatsServer::start();
    let s3 = S3Server::start(S3Kind::S3sFs);
    let objects = format!("s3://{BUCKET}?endpoint={}", s3.endpoint());
    let gateway_bin = std::env::current_exe()?.parent().context("binary directory")?.join("percolate-gateway");
    let mut command = Command::new(&gateway_bin);
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--nats-url", nats.url(), "--objects", &objects])
        .env("PERCOLATE_MAX_UPLOAD_MB", (args.size_mb + 1).to_string())
        .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
    let gateway = ServerProcess::start(command);
    let client = Client::connect(format!("http://{}", gateway.addr_after("on")), "bench").await?;
    let config = S3Config {
        endpoint: Some(s3.endpoint().to_string()),
        bucket: BUCKET.into(),
        access_key: Some(S3_ACCESS_KEY.into()),
        secret_key: Some(S3_SECRET_KEY.into()),
        ..S3Config::default()
    };
    let direct = ObjectStore::s3(config).await?;
    // Warm-up: bucket creation and connections on both paths.
    direct.put("bench", "warm-up", b"warm").await?;
    client.upload_reader(Pattern::new(1024), "warm-up.bin", Some(1024), None, UploadOptions::default(), None).await?;
    let idle_kib = proc_kib(gateway.pid(), "VmRSS:")?;
    println!("{} MiB per upload, part size 8 MiB, gateway idle RSS {:.1} MiB", args.size_mb, idle_kib as f64 / 1024.0);

    println!("| round | direct aws-sdk-s3 | through the gateway | ratio |");
    println!("|---|---|---|---|");
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        let started = Instant::now();
        let mut writer = direct.writer("bench", "direct/big.bin").await?;
        let mut source = Pattern::new(size);
        let mut piece = vec![0u8; PIECE];
        loop {
            let n = source.fill(&mut piece);
            if n == 0 {
                break;
            }
            writer.write(&piece[..n]).await?;
        }
        writer.finish().await?;
        let direct_secs = started.elapsed().as_secs_f64();
        direct.delete("bench", "direct/big.bin").await?;

        let started = Instant::now();
        let answer = client.upload_reader(Pattern::new(size), "big.bin", Some(size), None, UploadOptions::default(), None).await?;
        let gateway_secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(answer.size == size, "the gateway stored {} bytes", answer.size);
        direct.delete("bench", &answer.object_key).await?;

        let mib = args.size_mb as f64;
        let ratio = direct_secs / gateway_secs;
        ratios.push(ratio);
        println!("| {round} | {:.0} MiB/s ({direct_secs:.2} s) | {:.0} MiB/s ({gateway_secs:.2} s) | {ratio:.2} |", mib / direct_secs, mib / gateway_secs);
    }
    let peak_kib = proc_kib(gateway.pid(), "VmHWM:")?;
    println!();
    println!(
        "gateway RSS: idle {:.1} MiB, peak {:.1} MiB (+{:.1} MiB); throughput ratio gateway/direct {:.2}-{:.2}",
        idle_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0,
        (peak_kib.saturating_sub(idle_kib)) as f64 / 1024.0,
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    Ok(())
}
