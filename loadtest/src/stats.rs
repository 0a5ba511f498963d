//! Latency samples and the Markdown report.

use std::time::Duration;

/// Collected latencies.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Adds one observation.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The `q` quantile (0..=1), nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or_default()
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Rows of the benchmark table.
#[derive(Default)]
pub struct Report(Vec<String>);

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

impl Report {
    /// A latency row.
    pub fn latency(&mut self, what: &str, s: &Samples) {
        self.0.push(format!("| {what} | {} | {} ms | {} ms | {} ms |", s.len(), ms(s.quantile(0.5)), ms(s.quantile(0.99)), ms(s.quantile(1.0))));
    }

    /// A throughput row.
    pub fn throughput(&mut self, what: &str, per_second: f64, unit: &str) {
        self.0.push(format!("| {what} | | {per_second:.0} {unit} | | |"));
    }

    /// Prints the table.
    pub fn print(&self) {
        println!("| benchmark | n | p50 | p99 | max |");
        println!("|---|---|---|---|---|");
        for row in &self.0 {
            println!("{row}");
        }
    }
}
