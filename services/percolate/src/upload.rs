//! `percolate upload FILE... [--wait]`: streams files to the `Upload`
//! service with a progress bar for the bytes, then (with `--wait`) follows
//! each job and prints a one-line summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use percolate_sdk::{Client, UploadOptions, pb};
use serde_json::json;

/// Width of the progress bar, in characters.
const BAR: usize = 30;

/// What to upload.
pub struct UploadArgs {
    /// The files.
    pub files: Vec<PathBuf>,
    /// The uri of the resources (one file only).
    pub uri: Option<String>,
    /// Tags for every resource.
    pub tags: Vec<String>,
    /// Follow the jobs until they finish.
    pub wait: bool,
}

/// Uploads every file; fails when any upload or job failed.
pub async fn run(client: &Client, args: UploadArgs, as_json: bool) -> Result<()> {
    anyhow::ensure!(args.uri.is_none() || args.files.len() == 1, "--uri names the resources of one file; give one file or drop --uri");
    let mut failures = 0;
    let mut records = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let started = Instant::now();
        let options = UploadOptions { uri: args.uri.clone(), tags: args.tags.clone(), ..UploadOptions::default() };
        let uploaded = match client.upload_file(path, options, Some(progress_bar(name.clone()))).await {
            Ok(uploaded) => uploaded,
            Err(error) => {
                eprintln!("\r{name}: upload failed: {error}");
                failures += 1;
                continue;
            }
        };
        eprintln!();
        let job = if args.wait { Some(follow(client, &name, &uploaded.job_id).await?) } else { None };
        let seconds = started.elapsed().as_secs_f64();
        if job.as_ref().is_some_and(|j| j.state() != pb::JobState::Succeeded) {
            failures += 1;
        }
        if as_json {
            records.push(json!({
                "file": name, "upload_id": uploaded.upload_id, "job_id": uploaded.job_id, "object_key": uploaded.object_key,
                "size": uploaded.size, "sha256": uploaded.sha256, "seconds": seconds,
                "state": job.as_ref().map(|j| state_name(j)), "error": job.as_ref().map(|j| j.error.clone()),
                "result": job.as_ref().and_then(|j| j.result).map(|r| json!({"resources": r.resources, "entities": r.entities, "moments": r.moments})),
            }));
        } else {
            println!("{}", summary(&name, &uploaded, job.as_ref(), seconds));
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    }
    anyhow::ensure!(failures == 0, "{failures} of {} uploads failed", args.files.len());
    Ok(())
}

fn state_name(job: &pb::Job) -> String {
    job.state().as_str_name().trim_start_matches("JOB_STATE_").to_lowercase()
}

/// One line per file: what was stored and, after `--wait`, what came of it.
fn summary(name: &str, uploaded: &pb::UploadResponse, job: Option<&pb::Job>, seconds: f64) -> String {
    let size = mib(uploaded.size);
    match job {
        None => format!("{name}: uploaded {size}, job {} queued", uploaded.job_id),
        Some(job) if job.state() == pb::JobState::Succeeded => {
            let result = job.result.unwrap_or_default();
            format!("{name}: {size}, {} chunks, {} entities, {} moment in {seconds:.1} s", result.resources, result.entities, result.moments)
        }
        Some(job) => format!("{name}: {size}, job {} {}: {}", job.id, state_name(job), job.error),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// Draws `name [#####.....] 42% 1.2/3.0 MiB` on stderr when it is a
/// terminal, at most once per percent.
fn progress_bar(name: String) -> percolate_sdk::Progress {
    let on_terminal = std::io::stderr().is_terminal();
    let mut last = None;
    Box::new(move |sent, total| {
        if !on_terminal {
            return;
        }
        let Some(total) = total.filter(|t| *t > 0) else { return };
        let percent = (sent * 100 / total).min(100);
        if last == Some(percent) {
            return;
        }
        last = Some(percent);
        let filled = (percent as usize * BAR) / 100;
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(BAR - filled));
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{name} [{bar}] {percent:>3}% {}/{}", mib(sent), mib(total));
        let _ = err.flush();
    })
}

/// Follows a job, showing its stage and progress, until it finishes.
async fn follow(client: &Client, name: &str, id: &str) -> Result<pb::Job> {
    let on_terminal = std::io::stderr().is_terminal();
    let mut updates = client.watch_job(id).await?;
    let mut last = None;
    while let Some(job) = updates.message().await? {
        if on_terminal {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r{name}: {:<24} {:>3.0}%   ", job.stage, job.progress * 100.0);
            let _ = err.flush();
        }
        last = Some(job);
    }
    if on_terminal {
        eprintln!();
    }
    match last {
        Some(job) => Ok(job),
        None => Ok(client.get_job(id).await?),
    }
}
